//! The broker loop's view of its sockets, whichever engine serves them:
//! receive a message, send one, write out, wait.

use std::time::Duration;

use bytes::Bytes;
use corsair_core::Side;
use corsair_proto::Frames;

use super::zmq_io::ZmqIo;
use super::BrokerError;
use crate::engine::{Native, Undeliverable};

/// What a bound socket is to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A ROUTER on this side of the core broker.
    Router(Side),
    /// The PULL socket of fetch workers' answers.
    Answers,
}

impl Role {
    /// The ZMTP socket type the role is bound as.
    pub(super) fn socket_type(self) -> &'static str {
        match self {
            Role::Router(_) => "ROUTER",
            Role::Answers => "PULL",
        }
    }
}

/// Index of the ROUTER serving `side` among sockets of these roles: the
/// first socket (the frontend) when `side` has none of its own.
pub(super) fn socket_of(roles: impl IntoIterator<Item = Role>, side: Side) -> usize {
    roles
        .into_iter()
        .position(|r| r == Role::Router(side))
        .unwrap_or(0)
}

/// A message for the core.
pub(super) enum Received {
    /// On a ROUTER: the side, the sender's identity and the frames after
    /// it.
    Routed(Side, Bytes, Frames),
    /// A fetch worker's answer.
    Answer(Frames),
}

/// Why a message did not go out.
#[derive(Debug)]
pub(super) enum SendError {
    /// The peer is gone or not reading.
    Undeliverable,
    /// Anything else, as the socket said it.
    Failed(String),
}

/// The broker's sockets.
pub(super) enum Io {
    /// Served by libzmq.
    Libzmq(ZmqIo),
    /// Served by the native engine, one listener per role.
    Native(Box<Native>, Vec<Role>),
}

impl Io {
    /// The next message waiting, `None` when a round of every socket
    /// found nothing more.
    pub(super) fn recv(&mut self) -> Result<Option<Received>, BrokerError> {
        match self {
            Io::Libzmq(z) => z.recv(),
            Io::Native(n, roles) => Ok(n.recv().map(|m| match roles[m.listener] {
                Role::Router(side) => Received::Routed(side, m.identity, m.frames),
                Role::Answers => Received::Answer(m.frames),
            })),
        }
    }

    /// Sends `frames` (routing identity first) to a peer on `side`'s
    /// socket (the first socket's, if `side` has none of its own).
    pub(super) fn send(&mut self, side: Side, frames: &[Bytes]) -> Result<(), SendError> {
        match self {
            Io::Libzmq(z) => z.send(side, frames),
            Io::Native(n, roles) => n
                .send(socket_of(roles.iter().copied(), side), frames)
                .map_err(|_: Undeliverable| SendError::Undeliverable),
        }
    }

    /// Writes out what was sent (libzmq does this on its own thread).
    pub(super) fn flush(&mut self) {
        if let Io::Native(n, _) = self {
            n.flush();
        }
    }

    /// At shutdown: writes out what is still queued for up to `limit`
    /// (libzmq sockets do this themselves when closed, with their
    /// linger); returns the bytes left unsent.
    pub(super) fn linger(&mut self, limit: Duration) -> Result<usize, BrokerError> {
        match self {
            Io::Libzmq(_) => Ok(0),
            Io::Native(n, _) => Ok(n.linger(limit)?),
        }
    }

    /// Between busy rounds: the native engine takes in new events
    /// without waiting (libzmq's sockets are all tried again anyway).
    pub(super) fn poll_busy(&mut self) -> Result<(), BrokerError> {
        match self {
            Io::Libzmq(_) => Ok(()),
            Io::Native(n, _) => Ok(n.wait(Duration::ZERO)?),
        }
    }

    /// Waits up to `timeout_ms` for input.
    pub(super) fn wait(&mut self, timeout_ms: i64) -> Result<(), BrokerError> {
        match self {
            Io::Libzmq(z) => z.wait(timeout_ms),
            Io::Native(n, _) => Ok(n.wait(Duration::from_millis(timeout_ms.max(0) as u64))?),
        }
    }
}
