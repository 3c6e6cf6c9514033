//! Frames to typed messages and back, for every wire dialect corsair speaks.
//!
//! This crate knows nothing of sockets or clocks: a message is a list of
//! frames (`Vec<Bytes>`), exactly as a ZeroMQ socket hands it over, with
//! the ROUTER identity frame already taken off. Decoding never panics:
//! malformed input gives a [`DecodeError`] that says what is wrong.
//!
//! # Layout
//! - [`error`] — [`DecodeError`], the error of the dialect decoders.
//! - [`envelope`] — the `envelope… "" body…` shape shared by plain (Lazy
//!   Pirate) clients and Pirate workers.
//! - [`pirate`] — the Simple Pirate (REQ) and Paranoid Pirate (6/PPP,
//!   DEALER) worker dialects, both directions.
//! - [`mdp`] — Majordomo 0.1 (7/MDP) and 0.2 (18/MDP), clients and
//!   workers, both directions.
//! - [`dialect`] — all of them at once: [`Inbound::decode`] reads
//!   whatever arrives on a broker socket; [`ReturnPath`] and
//!   [`WorkerDialect`] frame the broker's answers.
//! - [`arena`] — small frames packed into shared chunks, so that taking
//!   a message in costs no allocation per frame.
//! - [`lists`] — frame lists reused on one thread, so that a message
//!   costs no list allocation either.
//! - [`zmtp`] — ZMTP 3.x itself (greeting, frames, READY/PING/PONG), for
//!   the broker's native engine, which speaks it without libzmq.
//!
//! # Example
//! ```
//! use bytes::Bytes;
//! use corsair_proto::pirate::{FromWorker, PirateDialect};
//!
//! // A Paranoid Pirate worker's READY, as the broker's ROUTER sees it.
//! let frames = vec![Bytes::from_static(&[0x01])];
//! let (dialect, msg) = FromWorker::decode(frames).unwrap();
//! assert_eq!(dialect, PirateDialect::Paranoid);
//! assert_eq!(msg, FromWorker::Ready);
//!
//! // A Simple Pirate (REQ) worker's READY carries the REQ delimiter.
//! let frames = vec![Bytes::new(), Bytes::from_static(&[0x01])];
//! assert_eq!(FromWorker::decode(frames).unwrap().0, PirateDialect::Simple);
//! ```

pub mod arena;
pub mod dialect;
pub mod envelope;
pub mod error;
pub mod lists;
pub mod mdp;
pub mod pirate;
pub mod zmtp;

pub use bytes::Bytes;
pub use dialect::{Bare, ClientDialect, Inbound, ReturnPath, WorkerDialect, WorkerMessage};
pub use envelope::Enveloped;
pub use error::DecodeError;
pub use mdp::MdpVersion;

/// One ZeroMQ message: its frames in order.
pub type Frames = Vec<Bytes>;
