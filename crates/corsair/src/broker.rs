//! The broker process: two ROUTER sockets (or one serving both roles)
//! driven by the core broker.
//!
//! The loop polls both sockets until the core's next deadline, feeds
//! what arrived into [`corsair_core::Broker`], lets it handle its
//! deadlines, and sends what it produced. `router_mandatory` is on, so a
//! message to a peer that has gone away fails at once and the core hears
//! of it (the worker is forgotten and its attempt fails over).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::{Broker as Core, BrokerConfig, Output, Side, Stats};
use thiserror::Error;
use tracing::{info, warn};

use crate::frames;
use crate::oversize::OversizeMonitor;
use crate::security::{CurveServer, Domain, ZapHandler};
use crate::shutdown::{poll_ms, Shutdown};

/// How long a closing socket may spend flushing what is queued.
pub const LINGER: Duration = Duration::from_millis(500);
/// How long a send may block on a full peer queue before the message
/// counts as undeliverable.
const SEND_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a shutdown waits for attempts in flight, unless set.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Bytes libzmq reads from and writes to one connection per system call
/// on the broker's ROUTER sockets (libzmq's default: 8192).
const IO_BATCH_BYTES: i32 = 64 * 1024;
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

/// The endpoints a broker binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoints {
    /// Clients (ROUTER); Majordomo workers may use it too.
    pub frontend: String,
    /// Workers (ROUTER), if a separate socket is wanted: Pirate workers
    /// need one.
    pub backend: Option<String>,
    /// The classic task broker's fetch workers (REQ peers) and their
    /// answers (PUSH peers): the workers' and answers' endpoints.
    pub fetch: Option<(String, String)>,
}

/// A bound socket, for polling: what it is and the socket.
struct Bound {
    role: Role,
    socket: zmq::Socket,
    endpoint: String,
    /// The last sender's identity (see [`frames::recv_routed`]).
    last_sender: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A ROUTER on this side of the core broker.
    Router(Side),
    /// The PULL socket of fetch workers' answers.
    Answers,
}

/// A running broker's sockets and state.
pub struct Broker {
    /// The frontend first; then whichever of backend, fetch and answers
    /// were asked for.
    sockets: Vec<Bound>,
    core: Core,
    /// The ZAP handler, with CURVE.
    zap: Option<ZapHandler>,
    /// Counts oversize refusals, with a size limit.
    oversize: Option<OversizeMonitor>,
    /// How long a shutdown waits for attempts in flight.
    grace: Duration,
}

/// Encryption, authentication and size limits for every broker socket.
#[derive(Debug, Clone, Default)]
pub struct BrokerSecurity {
    /// CURVE on every socket, with the allow-lists its ZAP handler
    /// enforces (`None`: plain text).
    pub curve: Option<CurveServer>,
    /// Largest message frame (bytes) a peer may send; libzmq drops the
    /// connection of a peer that sends a bigger one, and the broker logs
    /// and counts it ([`Broker::oversize_refused`]; `None`: no limit).
    pub max_message_size: Option<i64>,
}

impl BrokerSecurity {
    fn apply(&self, socket: &zmq::Socket, domain: Domain) -> zmq::Result<()> {
        if let Some(curve) = &self.curve {
            curve.apply(socket, domain)?;
        }
        if let Some(max) = self.max_message_size {
            socket.set_maxmsgsize(max)?;
        }
        Ok(())
    }
}

fn router(
    ctx: &zmq::Context,
    security: &BrokerSecurity,
    domain: Domain,
) -> Result<zmq::Socket, BrokerError> {
    let mut socket = ctx.socket(zmq::ROUTER)?;
    socket.set_router_mandatory(true)?;
    corsair_libzmq::set_batch_size(&mut socket, IO_BATCH_BYTES)?;
    security.apply(&socket, domain)?;
    Ok(socket)
}

fn bind(socket: &zmq::Socket, endpoint: &str) -> Result<String, BrokerError> {
    socket.set_linger(LINGER.as_millis() as i32)?;
    socket.set_sndtimeo(SEND_TIMEOUT.as_millis() as i32)?;
    socket.bind(endpoint).map_err(|source| BrokerError::Bind {
        endpoint: endpoint.to_owned(),
        source,
    })?;
    Ok(socket
        .get_last_endpoint()?
        .unwrap_or_else(|_| endpoint.to_owned()))
}

/// The ROUTER of `side`; the frontend's when there is none (one socket
/// for both roles).
fn socket_mut(sockets: &mut [Bound], side: Side) -> &mut zmq::Socket {
    let i = sockets
        .iter()
        .position(|b| b.role == Role::Router(side))
        .unwrap_or(0);
    &mut sockets[i].socket
}

impl Broker {
    /// Binds the clients' (`frontend`) and workers' (`backend`) sockets.
    pub fn bind(
        ctx: &zmq::Context,
        frontend: &str,
        backend: &str,
        config: BrokerConfig,
    ) -> Result<Self, BrokerError> {
        let endpoints = BrokerEndpoints {
            frontend: frontend.to_owned(),
            backend: Some(backend.to_owned()),
            fetch: None,
        };
        Self::bind_endpoints(ctx, &endpoints, config)
    }

    /// Binds one socket for clients and workers alike, as 7/MDP allows.
    /// Majordomo peers of both roles and plain clients can use it; Pirate
    /// workers need a workers' socket of their own.
    pub fn bind_single(
        ctx: &zmq::Context,
        endpoint: &str,
        config: BrokerConfig,
    ) -> Result<Self, BrokerError> {
        let endpoints = BrokerEndpoints {
            frontend: endpoint.to_owned(),
            backend: None,
            fetch: None,
        };
        Self::bind_endpoints(ctx, &endpoints, config)
    }

    /// Binds every socket `endpoints` asks for. The fetch workers' socket
    /// is a ROUTER that answers REQ workers as a REP socket would (REQ
    /// peers cannot tell the two apart), so the broker knows which worker
    /// asked; answers come in on a PULL socket.
    pub fn bind_endpoints(
        ctx: &zmq::Context,
        endpoints: &BrokerEndpoints,
        config: BrokerConfig,
    ) -> Result<Self, BrokerError> {
        Self::bind_secured(ctx, endpoints, config, &BrokerSecurity::default())
    }

    /// [`Broker::bind_endpoints`] with CURVE and size limits. With CURVE,
    /// the ZAP handler is bound in `ctx` first; the clients' socket is its
    /// `Clients` domain, the workers' sockets its `Workers` domain, and a
    /// single socket for both (no backend) admits keys of either list.
    pub fn bind_secured(
        ctx: &zmq::Context,
        endpoints: &BrokerEndpoints,
        config: BrokerConfig,
        security: &BrokerSecurity,
    ) -> Result<Self, BrokerError> {
        let zap = match &security.curve {
            Some(curve) => Some(ZapHandler::start(ctx, curve.clone())?),
            None => None,
        };
        let front_domain = if endpoints.backend.is_none() && endpoints.fetch.is_none() {
            Domain::Both
        } else {
            Domain::Clients
        };
        // Made first, bound once the oversize monitor watches them.
        let mut made: Vec<(Role, zmq::Socket, &str)> = Vec::with_capacity(4);
        made.push((
            Role::Router(Side::Frontend),
            router(ctx, security, front_domain)?,
            &endpoints.frontend,
        ));
        if let Some(ep) = &endpoints.backend {
            made.push((
                Role::Router(Side::Backend),
                router(ctx, security, Domain::Workers)?,
                ep,
            ));
        }
        if let Some((workers, answers)) = &endpoints.fetch {
            made.push((
                Role::Router(Side::Fetch),
                router(ctx, security, Domain::Workers)?,
                workers,
            ));
            let pull = ctx.socket(zmq::PULL)?;
            security.apply(&pull, Domain::Workers)?;
            made.push((Role::Answers, pull, answers));
        }
        let oversize = match security.max_message_size {
            Some(_) => {
                let watched: Vec<_> = made.iter().map(|(_, s, _)| s).collect();
                Some(OversizeMonitor::start(ctx, &watched)?)
            }
            None => None,
        };
        let mut sockets = Vec::with_capacity(made.len());
        for (role, socket, requested) in made {
            let endpoint = bind(&socket, requested)?;
            info!(?role, %endpoint, "broker bound");
            sockets.push(Bound {
                role,
                socket,
                endpoint,
                last_sender: Bytes::new(),
            });
        }
        Ok(Broker {
            sockets,
            core: Core::new(config, Instant::now()),
            zap,
            oversize,
            grace: DEFAULT_GRACE,
        })
    }

    fn endpoint(&self, role: Role) -> Option<&str> {
        self.sockets
            .iter()
            .find(|b| b.role == role)
            .map(|b| b.endpoint.as_str())
    }

    /// The clients' endpoint as bound (a `:0` port resolved).
    pub fn frontend_endpoint(&self) -> &str {
        &self.sockets[0].endpoint
    }

    /// The workers' endpoint as bound (a `:0` port resolved); the one
    /// endpoint of a broker made by [`Broker::bind_single`].
    pub fn backend_endpoint(&self) -> &str {
        self.endpoint(Role::Router(Side::Backend))
            .unwrap_or_else(|| self.frontend_endpoint())
    }

    /// The fetch workers' endpoint as bound, if there is one.
    pub fn fetch_endpoint(&self) -> Option<&str> {
        self.endpoint(Role::Router(Side::Fetch))
    }

    /// The answers' endpoint as bound, if there is one.
    pub fn answers_endpoint(&self) -> Option<&str> {
        self.endpoint(Role::Answers)
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        self.core.stats()
    }

    /// Connections the ZAP handler admitted and refused so far (zero
    /// without CURVE).
    pub fn auth_counts(&self) -> (u64, u64) {
        self.zap.as_ref().map_or((0, 0), |z| {
            (
                z.stats().admitted.load(Ordering::Relaxed),
                z.stats().refused.load(Ordering::Relaxed),
            )
        })
    }

    /// Connections libzmq dropped so far for a message over the size
    /// limit (zero without one). Counted on Linux, where corsair's libzmq
    /// reports them.
    pub fn oversize_refused(&self) -> u64 {
        self.oversize.as_ref().map_or(0, OversizeMonitor::refused)
    }

    /// How long a shutdown waits for attempts in flight (default 5 s).
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// Serves until `shutdown` is triggered, then shuts down gracefully:
    /// no new requests (they and the queued ones get the failure reply),
    /// attempts in flight may finish within the grace period, the rest
    /// get the failure reply and Majordomo workers DISCONNECT. Returns
    /// the final counters.
    pub fn run(&mut self, shutdown: &Shutdown) -> Result<Stats, BrokerError> {
        self.serve(|_| shutdown.is_triggered())?;
        let now = Instant::now();
        let deadline = now + self.grace;
        info!(
            in_flight = self.core.in_flight(),
            queued = self.core.queued(),
            grace = ?self.grace,
            "broker shutting down"
        );
        self.core.drain(now);
        self.flush(now)?;
        self.serve(|b| b.core.outstanding() == 0 || Instant::now() >= deadline)?;
        let now = Instant::now();
        self.core.finish(now);
        self.flush(now)?;
        info!(stats = ?self.core.stats(), "broker stopped");
        Ok(self.core.stats().clone())
    }

    /// The serving loop, until `done` says so.
    fn serve(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), BrokerError> {
        let mut ready = vec![true; self.sockets.len()];
        while !done(self) {
            let now = Instant::now();
            // Workers first, so replies and readiness are known before
            // new requests are placed.
            let mut busy = false;
            for i in (0..self.sockets.len()).rev() {
                if ready[i] {
                    busy |= self.drain(now, i)? > 0;
                }
            }
            self.core.handle_timeout(now);
            self.flush(now)?;
            if busy {
                // Under load, read on without a poll system call: every
                // socket is tried again, and the poll comes once all are
                // empty.
                ready.fill(true);
                continue;
            }
            let timeout = poll_ms(Instant::now(), self.core.poll_timeout());
            let mut items: Vec<_> = self
                .sockets
                .iter()
                .map(|b| b.socket.as_poll_item(zmq::POLLIN))
                .collect();
            frames::poll(&mut items, timeout)?;
            for (r, item) in ready.iter_mut().zip(&items) {
                *r = item.is_readable();
            }
        }
        Ok(())
    }

    /// Handles up to `BATCH` messages waiting on socket `index`; returns
    /// how many there were.
    fn drain(&mut self, now: Instant, index: usize) -> Result<usize, BrokerError> {
        let role = self.sockets[index].role;
        let mut handled = 0;
        for _ in 0..BATCH {
            let bound = &mut self.sockets[index];
            let received = match role {
                Role::Answers => frames::recv(&bound.socket, zmq::DONTWAIT).map(|msg| {
                    self.core.handle_answer(now, msg);
                }),
                Role::Router(side) => {
                    frames::recv_routed(&bound.socket, zmq::DONTWAIT, &mut bound.last_sender).map(
                        |msg| {
                            if let Some((identity, msg)) = msg {
                                self.core.handle_message(now, side, identity, msg);
                            }
                        },
                    )
                }
            };
            match received {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => break,
                Err(e) => return Err(e.into()),
            }
            handled += 1;
            // Send as we go so replies do not wait for the whole batch.
            self.flush(now)?;
        }
        Ok(handled)
    }

    fn flush(&mut self, now: Instant) -> Result<(), BrokerError> {
        while let Some(Output { side, frames: out }) = self.core.poll_output() {
            let socket = socket_mut(&mut self.sockets, side);
            match frames::send_shared(socket, &out, 0) {
                Ok(()) => {}
                Err(zmq::Error::EHOSTUNREACH) | Err(zmq::Error::EAGAIN) => {
                    self.core.handle_undeliverable(now, side, &out);
                }
                Err(e) => {
                    warn!(error = %e, ?side, "send failed");
                    self.core.handle_undeliverable(now, side, &out);
                }
            }
        }
        Ok(())
    }
}
