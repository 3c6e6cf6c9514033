//! The broker's sockets as libzmq sockets: for CURVE, `inproc://` and
//! whatever else the native engine leaves to libzmq.

use std::time::Duration;

use bytes::Bytes;
use corsair_core::Side;
use corsair_proto::arena::Arena;

use super::io::{socket_of, Received, Role, SendError};
use super::{BrokerError, BrokerSecurity, LINGER};
use crate::frames;
use crate::oversize::OversizeMonitor;
use crate::security::Domain;

/// How long a send may block on a full peer queue before the message
/// counts as undeliverable.
const SEND_TIMEOUT: Duration = Duration::from_millis(1000);
/// Messages taken from one socket in a row before looking at the next,
/// so that neither side can starve the other.
const BATCH: usize = 64;

/// A bound socket: what it is, the socket and its endpoint.
struct Bound {
    role: Role,
    socket: zmq::Socket,
    endpoint: String,
    /// The last sender's identity (see [`frames::recv_routed`]).
    last_sender: Bytes,
    /// Not known to be empty.
    ready: bool,
}

/// The broker's libzmq sockets.
pub(super) struct ZmqIo {
    /// In the order asked for; read from the last to the first, so that
    /// workers' replies are known before new requests are placed.
    sockets: Vec<Bound>,
    /// How far this round has got: sockets done, messages from the
    /// current one.
    done: usize,
    taken: usize,
    /// Counts oversize refusals, with a size limit.
    pub(super) oversize: Option<OversizeMonitor>,
    /// Where received frames are copied, small ones many to a chunk.
    arena: Arena,
}

fn router(
    ctx: &zmq::Context,
    security: &BrokerSecurity,
    domain: Domain,
) -> Result<zmq::Socket, BrokerError> {
    let mut socket = ctx.socket(zmq::ROUTER)?;
    socket.set_router_mandatory(true)?;
    frames::set_io_batch(&mut socket)?;
    security.apply(&socket, domain)?;
    Ok(socket)
}

fn bind(socket: &zmq::Socket, endpoint: &str) -> Result<String, BrokerError> {
    socket.set_linger(LINGER.as_millis() as i32)?;
    socket.set_sndtimeo(SEND_TIMEOUT.as_millis() as i32)?;
    socket.bind(endpoint).map_err(|source| BrokerError::Bind {
        endpoint: endpoint.to_owned(),
        source: source.into(),
    })?;
    Ok(socket
        .get_last_endpoint()?
        .unwrap_or_else(|_| endpoint.to_owned()))
}

impl ZmqIo {
    /// Makes and binds a socket per `(role, endpoint, domain)`.
    pub(super) fn bind(
        ctx: &zmq::Context,
        wanted: &[(Role, &str, Domain)],
        security: &BrokerSecurity,
    ) -> Result<Self, BrokerError> {
        // Made first, bound once the oversize monitor watches them.
        let mut made = Vec::with_capacity(wanted.len());
        for &(role, endpoint, domain) in wanted {
            let socket = match role {
                Role::Router(_) => router(ctx, security, domain)?,
                Role::Answers => {
                    let pull = ctx.socket(zmq::PULL)?;
                    security.apply(&pull, domain)?;
                    pull
                }
            };
            made.push((role, socket, endpoint));
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
            sockets.push(Bound {
                role,
                socket,
                endpoint,
                last_sender: Bytes::new(),
                ready: true,
            });
        }
        Ok(ZmqIo {
            sockets,
            done: 0,
            taken: 0,
            oversize,
            arena: Arena::new(),
        })
    }

    /// Each socket's role and endpoint as bound.
    pub(super) fn endpoints(&self) -> Vec<(Role, String)> {
        self.sockets
            .iter()
            .map(|b| (b.role, b.endpoint.clone()))
            .collect()
    }

    /// The next message waiting: up to `BATCH` from one socket, then the
    /// next; `None` once every socket has been tried this round (the next
    /// call starts a new round).
    pub(super) fn recv(&mut self) -> Result<Option<Received>, BrokerError> {
        let n = self.sockets.len();
        while self.done < n {
            let bound = &mut self.sockets[n - 1 - self.done];
            if bound.ready && self.taken < BATCH {
                let got = match bound.role {
                    Role::Answers => frames::recv(&bound.socket, zmq::DONTWAIT)
                        .map(|m| Some(Received::Answer(m))),
                    Role::Router(side) => frames::recv_routed(
                        &bound.socket,
                        zmq::DONTWAIT,
                        &mut bound.last_sender,
                        &mut self.arena,
                    )
                    .map(|m| m.map(|(identity, m)| Received::Routed(side, identity, m))),
                };
                match got {
                    Ok(Some(m)) => {
                        self.taken += 1;
                        return Ok(Some(m));
                    }
                    Ok(None) => {
                        self.taken += 1;
                        continue;
                    }
                    Err(zmq::Error::EAGAIN) => bound.ready = false,
                    Err(e) => return Err(e.into()),
                }
            }
            self.done += 1;
            self.taken = 0;
        }
        self.done = 0;
        for b in &mut self.sockets {
            b.ready = true;
        }
        Ok(None)
    }

    /// Sends `frames` (routing identity first) on the socket of `side`.
    pub(super) fn send(&mut self, side: Side, frames: &[Bytes]) -> Result<(), SendError> {
        let i = socket_of(self.sockets.iter().map(|b| b.role), side);
        match frames::send_shared(&mut self.sockets[i].socket, frames, 0) {
            Ok(()) => Ok(()),
            Err(zmq::Error::EHOSTUNREACH) | Err(zmq::Error::EAGAIN) => {
                Err(SendError::Undeliverable)
            }
            Err(e) => Err(SendError::Failed(e.to_string())),
        }
    }

    /// Waits up to `timeout_ms` for any socket to have input.
    pub(super) fn wait(&mut self, timeout_ms: i64) -> Result<(), BrokerError> {
        let mut items: Vec<_> = self
            .sockets
            .iter()
            .map(|b| b.socket.as_poll_item(zmq::POLLIN))
            .collect();
        frames::poll(&mut items, timeout_ms)?;
        let readable: Vec<bool> = items.iter().map(|i| i.is_readable()).collect();
        for (b, r) in self.sockets.iter_mut().zip(readable) {
            b.ready = r;
        }
        Ok(())
    }
}
