//! The broker process: two ROUTER sockets (or one serving both roles)
//! driven by the core broker.
//!
//! The loop waits on the sockets until the core's next deadline, feeds
//! what arrived into [`corsair_core::Broker`], lets it handle its
//! deadlines, and sends what it produced. A message to a peer that has
//! gone away fails at once and the core hears of it (the worker is
//! forgotten and its attempt fails over).
//!
//! The sockets are served by corsair's native ZMTP engine (plain TCP and
//! IPC) or by libzmq (CURVE, `inproc://`); see [`Engine`].
//!
//! # Layout
//! - `io` — the loop's view of its sockets, whichever engine serves them.
//! - `zmq_io` — the sockets as libzmq sockets.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use corsair_core::{Broker as Core, BrokerConfig, Output, Side, Stats};
use thiserror::Error;
use tracing::{info, warn};

mod io;
mod zmq_io;

use crate::engine::endpoint::{self, Addr};
use crate::engine::Native;
use crate::oversize::OversizeMonitor;
use crate::security::{CurveServer, Domain, ZapHandler};
use crate::shutdown::{poll_ms, Shutdown};
use io::{Io, Received, Role, SendError};
use zmq_io::ZmqIo;

/// How long a closing socket may spend flushing what is queued.
pub const LINGER: Duration = Duration::from_millis(500);
/// How long a shutdown waits for attempts in flight, unless set.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Messages handled before what they produced is written out.
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
        /// The system's or libzmq's reason.
        source: std::io::Error,
    },
    /// A socket failed.
    #[error("socket error: {0}")]
    Socket(#[from] zmq::Error),
    /// The native engine's event loop failed.
    #[error("event loop error: {0}")]
    Io(#[from] std::io::Error),
    /// The native engine was asked for where it cannot serve.
    #[error("the native engine cannot serve this broker: {0}")]
    Engine(String),
}

/// Which engine serves the broker's sockets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// Native where it can serve (plain TCP and IPC endpoints, no
    /// CURVE), libzmq otherwise.
    #[default]
    Auto,
    /// corsair's own ZMTP 3.x engine on the broker thread: no handover to
    /// an I/O thread, many messages per system call. Refuses ZMTP 1.0/2.0
    /// peers (libzmq 3.x and older).
    Native,
    /// libzmq's sockets.
    Libzmq,
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

/// A running broker's sockets and state.
pub struct Broker {
    io: Io,
    /// Each socket's role and endpoint as bound: the frontend first,
    /// then whichever of backend, fetch and answers were asked for.
    endpoints: Vec<(Role, String)>,
    core: Core,
    /// The ZAP handler, with CURVE.
    zap: Option<ZapHandler>,
    /// How long a shutdown waits for attempts in flight.
    grace: Duration,
}

/// Encryption, authentication and size limits for every broker socket.
#[derive(Debug, Clone, Default)]
pub struct BrokerSecurity {
    /// CURVE on every socket, with the allow-lists its ZAP handler
    /// enforces (`None`: plain text).
    pub curve: Option<CurveServer>,
    /// Largest message frame (bytes) a peer may send; the engine drops
    /// the connection of a peer that sends a bigger one, and the broker
    /// logs and counts it ([`Broker::oversize_refused`]; `None`: no
    /// limit).
    pub max_message_size: Option<i64>,
}

impl BrokerSecurity {
    pub(crate) fn apply(&self, socket: &zmq::Socket, domain: Domain) -> zmq::Result<()> {
        if let Some(curve) = &self.curve {
            curve.apply(socket, domain)?;
        }
        if let Some(max) = self.max_message_size {
            socket.set_maxmsgsize(max)?;
        }
        Ok(())
    }
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
        Self::bind_with(ctx, endpoints, config, security, Engine::Auto)
    }

    /// [`Broker::bind_secured`] on the engine asked for.
    /// [`Engine::Native`] fails with [`BrokerError::Engine`] where it
    /// cannot serve (CURVE, or an endpoint it cannot bind itself).
    pub fn bind_with(
        ctx: &zmq::Context,
        endpoints: &BrokerEndpoints,
        config: BrokerConfig,
        security: &BrokerSecurity,
        engine: Engine,
    ) -> Result<Self, BrokerError> {
        let front_domain = if endpoints.backend.is_none() && endpoints.fetch.is_none() {
            Domain::Both
        } else {
            Domain::Clients
        };
        let mut wanted: Vec<(Role, &str, Domain)> = vec![(
            Role::Router(Side::Frontend),
            &endpoints.frontend,
            front_domain,
        )];
        if let Some(ep) = &endpoints.backend {
            wanted.push((Role::Router(Side::Backend), ep, Domain::Workers));
        }
        if let Some((workers, answers)) = &endpoints.fetch {
            wanted.push((Role::Router(Side::Fetch), workers, Domain::Workers));
            wanted.push((Role::Answers, answers, Domain::Workers));
        }
        let native = match native_addrs(&wanted, security) {
            Ok(addrs) if engine != Engine::Libzmq => Some(addrs),
            Err(why) if engine == Engine::Native => return Err(BrokerError::Engine(why)),
            Err(why) => {
                if engine == Engine::Auto {
                    info!(reason = %why, "broker served by libzmq");
                }
                None
            }
            Ok(_) => None,
        };
        let (io, zap) = match native {
            Some(addrs) => {
                let limit = security
                    .max_message_size
                    .and_then(|m| u64::try_from(m).ok());
                let native = Native::bind(&addrs, limit).map_err(|source| BrokerError::Bind {
                    endpoint: wanted.iter().map(|w| w.1).collect::<Vec<_>>().join(" "),
                    source,
                })?;
                let roles = wanted.iter().map(|w| w.0).collect();
                (Io::Native(Box::new(native), roles), None)
            }
            None => {
                let zap = match &security.curve {
                    Some(curve) => Some(ZapHandler::start(ctx, curve.clone())?),
                    None => None,
                };
                (Io::Libzmq(ZmqIo::bind(ctx, &wanted, security)?), zap)
            }
        };
        let bound: Vec<(Role, String)> = match &io {
            Io::Libzmq(z) => z.endpoints(),
            Io::Native(n, roles) => roles
                .iter()
                .enumerate()
                .map(|(i, &r)| (r, n.endpoint(i).to_owned()))
                .collect(),
        };
        let broker = Broker {
            io,
            endpoints: bound,
            core: Core::new(config, Instant::now()),
            zap,
            grace: DEFAULT_GRACE,
        };
        for (role, endpoint) in &broker.endpoints {
            info!(?role, %endpoint, engine = ?broker.engine(), "broker bound");
        }
        Ok(broker)
    }

    /// Which engine serves the sockets: [`Engine::Native`] or
    /// [`Engine::Libzmq`].
    pub fn engine(&self) -> Engine {
        match self.io {
            Io::Native(..) => Engine::Native,
            Io::Libzmq(_) => Engine::Libzmq,
        }
    }

    fn endpoint(&self, role: Role) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, e)| e.as_str())
    }

    /// The clients' endpoint as bound (a `:0` port resolved).
    pub fn frontend_endpoint(&self) -> &str {
        &self.endpoints[0].1
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

    /// Connections dropped so far for a message over the size limit
    /// (zero without one). The native engine counts them everywhere; on
    /// libzmq they are counted on Linux, where corsair's libzmq reports
    /// them.
    pub fn oversize_refused(&self) -> u64 {
        match &self.io {
            Io::Native(n, _) => n.counts().oversized,
            Io::Libzmq(z) => z.oversize.as_ref().map_or(0, OversizeMonitor::refused),
        }
    }

    /// Connections the native engine dropped for breaking ZMTP: a bad
    /// or old greeting, another security mechanism, an incompatible
    /// socket type, a taken identity, no handshake in time (zero with
    /// libzmq, which drops them without telling).
    pub fn wire_refused(&self) -> u64 {
        match &self.io {
            Io::Native(n, _) => n.counts().refused,
            Io::Libzmq(_) => 0,
        }
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
        let unsent = self.io.linger(LINGER)?;
        if unsent > 0 {
            warn!(
                bytes = unsent,
                linger = ?LINGER,
                "peers did not take everything within the linger: the rest is dropped"
            );
        }
        info!(stats = ?self.core.stats(), "broker stopped");
        Ok(self.core.stats().clone())
    }

    /// The serving loop, until `done` says so.
    fn serve(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), BrokerError> {
        while !done(self) {
            let now = Instant::now();
            let mut handled = 0;
            while handled < BATCH {
                match self.io.recv()? {
                    Some(Received::Routed(side, identity, msg)) => {
                        self.core.handle_message(now, side, identity, msg);
                    }
                    Some(Received::Answer(msg)) => self.core.handle_answer(now, msg),
                    None => break,
                }
                handled += 1;
            }
            self.core.handle_timeout(now);
            self.flush(now)?;
            if handled > 0 {
                // Under load, read on without waiting: the wait comes
                // once every socket is empty. The native engine still
                // looks for new events, so that a peer that always has
                // more to read cannot keep the others waiting.
                self.io.poll_busy()?;
                continue;
            }
            let timeout = poll_ms(Instant::now(), self.core.poll_timeout());
            self.io.wait(timeout)?;
        }
        Ok(())
    }

    /// Sends what the core produced and writes it out.
    fn flush(&mut self, now: Instant) -> Result<(), BrokerError> {
        while let Some(Output { side, frames: out }) = self.core.poll_output() {
            match self.io.send(side, &out) {
                Ok(()) => {}
                Err(SendError::Undeliverable) => self.core.handle_undeliverable(now, side, &out),
                Err(SendError::Failed(error)) => {
                    warn!(%error, ?side, "send failed");
                    self.core.handle_undeliverable(now, side, &out);
                }
            }
            // Sent (or refused): the list serves a later message.
            corsair_proto::lists::give(out);
        }
        self.io.flush();
        Ok(())
    }
}

/// The native engine's addresses for every socket wanted, or why it
/// cannot serve them.
fn native_addrs(
    wanted: &[(Role, &str, Domain)],
    security: &BrokerSecurity,
) -> Result<Vec<(&'static str, Addr)>, String> {
    if security.curve.is_some() {
        return Err("CURVE is served by libzmq".into());
    }
    wanted
        .iter()
        .map(|&(role, endpoint, _)| {
            endpoint::parse(endpoint)
                .map(|addr| (role.socket_type(), addr))
                .ok_or_else(|| format!("{endpoint} is served by libzmq"))
        })
        .collect()
}
