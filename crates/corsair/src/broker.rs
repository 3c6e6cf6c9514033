//! The broker process: two ROUTER sockets (or one serving both roles)
//! driven by the core broker.
//!
//! The loop polls both sockets until the core's next deadline, feeds
//! what arrived into [`corsair_core::Broker`], lets it handle its
//! deadlines, and sends what it produced. `router_mandatory` is on, so a
//! message to a peer that has gone away fails at once and the core hears
//! of it (the worker is forgotten and its attempt fails over).

use std::time::{Duration, Instant};

use corsair_core::{Broker as Core, BrokerConfig, Output, Side, Stats};
use thiserror::Error;
use tracing::{info, warn};

use crate::frames;
use crate::shutdown::{poll_ms, Shutdown};

/// How long a closing socket may spend flushing what is queued.
pub const LINGER: Duration = Duration::from_millis(500);
/// How long a send may block on a full peer queue before the message
/// counts as undeliverable.
const SEND_TIMEOUT: Duration = Duration::from_millis(1000);
/// Messages taken from one socket before looking at the other, so that
/// neither side can starve the other.
const BATCH: usize = 256;

/// Why the broker could not start or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// An endpoint could not be bound.
    #[error("cannot bind {endpoint}: {source}")]
    Bind {
        /// The endpoint given.
        endpoint: String,
        /// libzmq's reason.
        source: zmq::Error,
    },
    /// A socket failed.
    #[error("socket error: {0}")]
    Socket(#[from] zmq::Error),
}

/// A running broker's sockets and state.
pub struct Broker {
    frontend: zmq::Socket,
    /// `None` when one socket serves clients and workers.
    backend: Option<zmq::Socket>,
    frontend_endpoint: String,
    backend_endpoint: String,
    core: Core,
}

fn router(ctx: &zmq::Context, endpoint: &str) -> Result<(zmq::Socket, String), BrokerError> {
    let socket = ctx.socket(zmq::ROUTER)?;
    socket.set_router_mandatory(true)?;
    socket.set_linger(LINGER.as_millis() as i32)?;
    socket.set_sndtimeo(SEND_TIMEOUT.as_millis() as i32)?;
    socket.bind(endpoint).map_err(|source| BrokerError::Bind {
        endpoint: endpoint.to_owned(),
        source,
    })?;
    let bound = socket
        .get_last_endpoint()?
        .unwrap_or_else(|_| endpoint.to_owned());
    Ok((socket, bound))
}

impl Broker {
    /// Binds the clients' (`frontend`) and workers' (`backend`) sockets.
    pub fn bind(
        ctx: &zmq::Context,
        frontend: &str,
        backend: &str,
        config: BrokerConfig,
    ) -> Result<Self, BrokerError> {
        let (frontend, frontend_endpoint) = router(ctx, frontend)?;
        let (backend, backend_endpoint) = router(ctx, backend)?;
        info!(frontend = %frontend_endpoint, backend = %backend_endpoint, "broker bound");
        Ok(Broker {
            frontend,
            backend: Some(backend),
            frontend_endpoint,
            backend_endpoint,
            core: Core::new(config, Instant::now()),
        })
    }

    /// Binds one socket for clients and workers alike, as 7/MDP allows.
    /// Majordomo peers of both roles and plain clients can use it; Pirate
    /// workers need a workers' socket of their own.
    pub fn bind_single(
        ctx: &zmq::Context,
        endpoint: &str,
        config: BrokerConfig,
    ) -> Result<Self, BrokerError> {
        let (frontend, frontend_endpoint) = router(ctx, endpoint)?;
        info!(endpoint = %frontend_endpoint, "broker bound (one socket for both roles)");
        Ok(Broker {
            frontend,
            backend: None,
            backend_endpoint: frontend_endpoint.clone(),
            frontend_endpoint,
            core: Core::new(config, Instant::now()),
        })
    }

    /// The clients' endpoint as bound (a `:0` port resolved).
    pub fn frontend_endpoint(&self) -> &str {
        &self.frontend_endpoint
    }

    /// The workers' endpoint as bound (a `:0` port resolved); the one
    /// endpoint of a broker made by [`Broker::bind_single`].
    pub fn backend_endpoint(&self) -> &str {
        &self.backend_endpoint
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        self.core.stats()
    }

    /// Serves until `shutdown` is triggered; returns the final counters.
    pub fn run(&mut self, shutdown: &Shutdown) -> Result<Stats, BrokerError> {
        while !shutdown.is_triggered() {
            let timeout = poll_ms(Instant::now(), self.core.poll_timeout());
            let mut items = vec![self.frontend.as_poll_item(zmq::POLLIN)];
            items.extend(self.backend.as_ref().map(|b| b.as_poll_item(zmq::POLLIN)));
            frames::poll(&mut items, timeout)?;
            let front_ready = items[0].is_readable();
            let back_ready = items.get(1).is_some_and(|i| i.is_readable());
            let now = Instant::now();
            if back_ready {
                self.drain(now, Side::Backend)?;
            }
            if front_ready {
                self.drain(now, Side::Frontend)?;
            }
            self.core.handle_timeout(now);
            self.flush(now)?;
        }
        info!(outstanding = self.core.outstanding(), "broker stopping");
        Ok(self.core.stats().clone())
    }

    fn socket(&self, side: Side) -> &zmq::Socket {
        match (side, &self.backend) {
            (Side::Backend, Some(backend)) => backend,
            _ => &self.frontend,
        }
    }

    fn drain(&mut self, now: Instant, side: Side) -> Result<(), BrokerError> {
        for _ in 0..BATCH {
            let msg = match frames::recv(self.socket(side), zmq::DONTWAIT) {
                Ok(msg) => msg,
                Err(zmq::Error::EAGAIN) => break,
                Err(e) => return Err(e.into()),
            };
            let Some((identity, msg)) = frames::split_identity(msg) else {
                continue;
            };
            self.core.handle_message(now, side, identity, msg);
            // Send as we go so replies do not wait for the whole batch.
            self.flush(now)?;
        }
        Ok(())
    }

    fn flush(&mut self, now: Instant) -> Result<(), BrokerError> {
        while let Some(Output { side, frames: out }) = self.core.poll_output() {
            match frames::send(self.socket(side), &out, 0) {
                Ok(()) => {}
                Err(zmq::Error::EHOSTUNREACH) | Err(zmq::Error::EAGAIN) => {
                    self.core.handle_unroutable(now, side, &out[0]);
                }
                Err(e) => {
                    warn!(error = %e, ?side, "send failed");
                    self.core.handle_unroutable(now, side, &out[0]);
                }
            }
        }
        Ok(())
    }
}
