//! Who the broker talks to: the two sockets, a peer on one of them, and
//! the messages the adapter must send.

use bytes::Bytes;
use corsair_proto::Frames;

/// Which broker socket a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The clients' ROUTER socket (also the only socket of a broker
    /// serving both roles on one endpoint).
    Frontend,
    /// The workers' ROUTER socket.
    Backend,
    /// The fetch workers' socket: a ROUTER answering REQ workers as the
    /// classic broker's REP socket does.
    Fetch,
}

/// A peer: its socket and its ROUTER identity there. Identities are only
/// unique per socket, so both are needed to name a peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    /// The socket it is connected to.
    pub side: Side,
    /// Its ROUTER identity on that socket.
    pub identity: Bytes,
}

impl PeerId {
    /// The peer `identity` on `side`.
    pub fn new(side: Side, identity: Bytes) -> Self {
        PeerId { side, identity }
    }
}

/// A message for the adapter to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The socket to send it on.
    pub side: Side,
    /// The frames, the first being the ROUTER identity of the peer.
    pub frames: Frames,
}

impl Output {
    /// A message to `peer`: its identity, then `frames`.
    pub fn to(peer: &PeerId, frames: Frames) -> Self {
        let mut all = Vec::with_capacity(1 + frames.len());
        all.push(peer.identity.clone());
        all.extend(frames);
        Output {
            side: peer.side,
            frames: all,
        }
    }
}
