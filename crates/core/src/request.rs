//! Attempt tracking: the table of outstanding requests.
//!
//! A request is outstanding from the moment it is accepted until its
//! client has been sent either a reply or the failure reply. While
//! outstanding it is either queued (waiting for an idle worker) or in
//! flight (one attempt at one worker).

use rustc_hash::FxHashMap as HashMap;

use bytes::Bytes;
use corsair_proto::{Frames, ReturnPath};

use crate::peer::PeerId;

/// The broker's name for a request: unique for the broker's lifetime,
/// and the one envelope frame a worker sees and echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// The 8-byte envelope frame that carries this id to a worker.
    pub fn to_frame(self) -> Bytes {
        Bytes::copy_from_slice(&self.0.to_be_bytes())
    }

    /// Reads an id back from the envelope a worker echoed.
    pub fn from_envelope(envelope: &[Bytes]) -> Option<Self> {
        match envelope {
            [frame] => Some(RequestId(u64::from_be_bytes(
                frame.as_ref().try_into().ok()?,
            ))),
            _ => None,
        }
    }
}

/// Where a reply goes: the client's socket and identity, its dialect and
/// any envelope frames it sent before its delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The client's connection.
    pub peer: PeerId,
    /// How to frame replies to it.
    pub path: ReturnPath,
}

/// Where an outstanding request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting in its service's queue; `epoch` tells a current wait
    /// deadline from a stale one.
    Queued {
        /// Incremented each time the request is queued.
        epoch: u64,
    },
    /// Dispatched to `worker` as attempt number `attempt` (1-based).
    InFlight {
        /// The worker.
        worker: PeerId,
        /// Which attempt this is.
        attempt: u32,
    },
}

/// One outstanding request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where the reply goes.
    pub route: Route,
    /// The service that serves it.
    pub service: Bytes,
    /// The body frames, resent on every attempt.
    pub body: Frames,
    /// Attempts made so far.
    pub attempts: u32,
    /// Queued or in flight.
    pub state: RequestState,
    /// Partial replies (MDP/0.2) of the current attempt held for a client
    /// that takes one reply only.
    pub partial: Frames,
    /// True once a partial reply has been passed on to the client: the
    /// request can no longer be retried without repeating it.
    pub streamed: bool,
}

/// All outstanding requests, by id.
#[derive(Debug, Default)]
pub struct Requests {
    table: HashMap<RequestId, Request>,
    next_id: u64,
    next_epoch: u64,
    queued: usize,
}

impl Requests {
    /// Adds a new queued request and returns its id and queue epoch.
    pub fn insert(&mut self, route: Route, service: Bytes, body: Frames) -> (RequestId, u64) {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        let epoch = self.bump_epoch();
        self.queued += 1;
        self.table.insert(
            id,
            Request {
                route,
                service,
                body,
                attempts: 0,
                state: RequestState::Queued { epoch },
                partial: Vec::new(),
                streamed: false,
            },
        );
        (id, epoch)
    }

    fn bump_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// The request, if still outstanding.
    pub fn get(&self, id: RequestId) -> Option<&Request> {
        self.table.get(&id)
    }

    /// The request, to change, if still outstanding.
    pub fn get_mut(&mut self, id: RequestId) -> Option<&mut Request> {
        self.table.get_mut(&id)
    }

    /// Requests waiting in a queue, over all services.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Outstanding requests, queued or in flight.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Marks a queued request as dispatched to `worker`; returns the
    /// attempt number, or `None` if the request is not queued.
    pub fn start_attempt(&mut self, id: RequestId, worker: PeerId) -> Option<u32> {
        let req = self.table.get_mut(&id)?;
        if !matches!(req.state, RequestState::Queued { .. }) {
            return None;
        }
        self.queued -= 1;
        req.attempts += 1;
        req.state = RequestState::InFlight {
            worker,
            attempt: req.attempts,
        };
        Some(req.attempts)
    }

    /// Puts an in-flight request back in the queued state, dropping any
    /// partial reply held for it; returns the new queue epoch.
    pub fn requeue(&mut self, id: RequestId) -> Option<u64> {
        let epoch = self.bump_epoch();
        let req = self.table.get_mut(&id)?;
        if matches!(req.state, RequestState::Queued { .. }) {
            return None;
        }
        self.queued += 1;
        req.state = RequestState::Queued { epoch };
        req.partial.clear();
        Some(epoch)
    }

    /// Puts an in-flight request back in the queued state as if its
    /// current attempt had never been made (its dispatch could not be
    /// sent); returns the new queue epoch.
    pub fn undo_attempt(&mut self, id: RequestId) -> Option<u64> {
        let epoch = self.requeue(id)?;
        let req = self.table.get_mut(&id)?;
        req.attempts = req.attempts.saturating_sub(1);
        Some(epoch)
    }

    /// Ends a request, returning it.
    pub fn remove(&mut self, id: RequestId) -> Option<Request> {
        let req = self.table.remove(&id)?;
        if matches!(req.state, RequestState::Queued { .. }) {
            self.queued -= 1;
        }
        Some(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::peer::Side;
    use corsair_proto::ClientDialect;

    fn route() -> Route {
        Route {
            peer: PeerId::new(Side::Frontend, Bytes::from_static(b"c")),
            path: ReturnPath {
                dialect: ClientDialect::Plain,
                envelope: vec![],
                delimited: true,
            },
        }
    }

    fn w() -> PeerId {
        PeerId::new(Side::Backend, Bytes::from_static(b"w"))
    }

    #[test]
    fn id_round_trips_through_its_frame_and_rejects_others() {
        let id = RequestId(0x0102_0304_0506_0708);
        assert_eq!(RequestId::from_envelope(&[id.to_frame()]), Some(id));
        assert_eq!(
            RequestId::from_envelope(&[Bytes::from_static(b"short")]),
            None
        );
        assert_eq!(
            RequestId::from_envelope(&[id.to_frame(), id.to_frame()]),
            None
        );
        assert_eq!(RequestId::from_envelope(&[]), None);
    }

    #[test]
    fn queued_count_follows_state_changes() {
        let mut r = Requests::default();
        let (a, _) = r.insert(route(), Bytes::new(), vec![]);
        let (b, _) = r.insert(route(), Bytes::new(), vec![]);
        assert_eq!(r.queued(), 2);
        assert_eq!(r.start_attempt(a, w()), Some(1));
        assert_eq!(r.start_attempt(a, w()), None);
        assert_eq!(r.queued(), 1);
        assert!(r.requeue(a).is_some());
        assert_eq!(r.queued(), 2);
        assert_eq!(r.start_attempt(a, w()), Some(2));
        r.remove(a);
        r.remove(b);
        assert_eq!((r.queued(), r.len()), (0, 0));
    }
}
