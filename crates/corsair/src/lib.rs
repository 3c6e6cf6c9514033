//! Reliable request-reply on ZeroMQ: a broker that never silently loses a
//! request, a Lazy Pirate client and a heartbeating worker.
//!
//! The state machines live in `corsair-core` and know nothing of sockets;
//! this crate wraps them in real libzmq sockets (and, for the broker's
//! plain TCP and IPC sockets, its own ZMTP 3 engine: see [`Engine`]).
//! libzmq 4.3.5 with CURVE is built and linked by `corsair-libzmq`, so
//! depending on this crate is all a program needs.
//!
//! # Layout
//! - [`broker`] — [`Broker`], two ROUTER sockets driven by the core broker.
//! - `engine` — the broker's native ZMTP 3 engine (epoll, one thread).
//! - [`client`] — [`Client`], the Lazy Pirate client over REQ (plain or
//!   Majordomo 0.1).
//! - [`async_client`] — [`AsyncClient`], Majordomo 0.2 over DEALER with
//!   many requests in flight.
//! - [`worker`] — [`Worker`], Paranoid Pirate (DEALER, heartbeats,
//!   reconnect back-off) or Simple Pirate (REQ).
//! - [`duration`] — `2.5s`, `500ms`, `1m`: durations as written on
//!   command lines and in INI files.
//! - [`daemon`] — long-running daemons with declared channels, handlers
//!   named after them, INI configuration and a process supervisor.
//! - [`patterns`] — REQ/REP, PUB/SUB and PUSH/PULL as small pieces for
//!   the examples and `corsair pattern`.
//! - [`security`] — CURVE keys, allow-lists and the broker's ZAP
//!   handler.
//! - [`shutdown`] — [`Shutdown`], the stop signal the caller hands in.
//! - [`frames`] — reading and writing multipart messages as [`Frames`].
//!
//! # Example
//! ```
//! use std::thread;
//! use corsair::{Broker, Client, Shutdown, Worker, WorkerOptions};
//! use corsair::core::{BrokerConfig, RetryPolicy};
//!
//! let ctx = zmq::Context::new();
//! let stop = Shutdown::new();
//! let mut broker = Broker::bind(&ctx, "tcp://127.0.0.1:0", "tcp://127.0.0.1:0",
//!                               BrokerConfig::default()).unwrap();
//! let (front, back) = (broker.frontend_endpoint().to_owned(), broker.backend_endpoint().to_owned());
//! let b = { let stop = stop.clone(); thread::spawn(move || broker.run(&stop)) };
//! let w = {
//!     let (ctx, stop) = (ctx.clone(), stop.clone());
//!     thread::spawn(move || {
//!         let mut worker = Worker::new(&ctx, WorkerOptions::paranoid(&back));
//!         worker.run(|req| Some(req), &stop)
//!     })
//! };
//! let mut client = Client::new(&ctx, vec![front], RetryPolicy::default());
//! let reply = client.request(vec!["hello".into()], &stop).unwrap();
//! assert_eq!(reply, vec![bytes::Bytes::from("hello")]);
//! stop.trigger();
//! b.join().unwrap().unwrap();
//! w.join().unwrap().unwrap();
//! ```

use corsair_libzmq as _;

pub mod async_client;
pub mod broker;
pub mod client;
pub mod daemon;
pub mod duration;
mod engine;
pub mod frames;
pub mod oversize;
pub mod patterns;
pub mod security;
pub mod shutdown;
pub mod worker;

pub use async_client::{AsyncClient, Event};
pub use broker::{Broker, BrokerEndpoints, BrokerError, BrokerSecurity, Engine};
pub use bytes::Bytes;
pub use client::{Client, ClientError};
pub use corsair_core as core;
pub use corsair_proto as proto;
pub use corsair_proto::Frames;
pub use shutdown::Shutdown;
pub use worker::{Worker, WorkerDialect, WorkerError, WorkerOptions};
pub use zmq;
