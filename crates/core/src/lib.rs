//! Sans-I/O state machines of corsair: the reliable broker, the Lazy
//! Pirate client's retry policy and the heartbeating worker's liveness.
//!
//! Nothing here opens a socket or reads a clock: time is an argument, so
//! heartbeats, expiry, timeouts and retries are tested without sleeping.
//! The `corsair` crate wraps these in ZeroMQ sockets.
//!
//! # Layout
//! - [`broker`] — [`Broker`], the state machine; feeds the modules below.
//! - [`config`] — [`BrokerConfig`].
//! - [`peer`] — sockets ([`Side`]), peers ([`PeerId`]) and [`Output`].
//! - [`mmi`] — 8/MMI, the services the broker answers itself.
//! - [`service`] — the service registry ([`service::ServiceKey`]) and
//!   per-service queues of idle workers (LRU) and requests.
//! - [`worker`] — the worker registry and worker states.
//! - [`request`] — attempt tracking for outstanding requests.
//! - [`timers`] — attempt and wait deadlines.
//! - [`hashing`] — the keyed hasher of tables whose keys peers choose.
//! - [`heartbeat`] — the broker's heartbeat tick.
//! - [`stats`] — counters of everything done, dropped or refused.
//! - [`retry`] — the Lazy Pirate client's retry policy.
//! - [`liveness`] — a heartbeating worker's view of the broker.
//!
//! # Example
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use corsair_core::{Broker, BrokerConfig, Side};
//!
//! let t0 = Instant::now();
//! let mut broker = Broker::new(BrokerConfig::default(), t0);
//! // A Paranoid Pirate worker says READY, a REQ client sends "hello".
//! broker.handle_backend(t0, Bytes::from("w1"), vec![Bytes::from_static(&[0x01])]);
//! broker.handle_frontend(t0, Bytes::from("c1"), vec![Bytes::new(), Bytes::from("hello")]);
//! let out = broker.poll_output().unwrap();
//! assert_eq!(out.side, Side::Backend);
//! assert_eq!(out.frames[0], "w1"); // worker identity, then request id, "", "hello"
//! assert_eq!(out.frames[3], "hello");
//! // The worker echoes the envelope with its answer.
//! let reply = vec![out.frames[1].clone(), Bytes::new(), Bytes::from("world")];
//! broker.handle_backend(t0 + Duration::from_millis(1), Bytes::from("w1"), reply);
//! let out = broker.poll_output().unwrap();
//! assert_eq!(out.frames, vec![Bytes::from("c1"), Bytes::new(), Bytes::from("world")]);
//! ```

pub mod broker;
pub mod config;
pub mod hashing;
pub mod heartbeat;
pub mod liveness;
pub mod mmi;
pub mod peer;
pub mod request;
pub mod retry;
pub mod service;
mod slab;
pub mod stats;
pub mod timers;
pub mod worker;

pub use broker::Broker;
pub use config::{BrokerConfig, HeartbeatConfig};
pub use liveness::{Liveness, LivenessConfig};
pub use peer::{Output, PeerId, Side};
pub use retry::{Retry, RetryPolicy};
pub use stats::Stats;
