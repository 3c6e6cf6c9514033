//! Attempt tracking: the table of outstanding requests.
//!
//! A request is outstanding from the moment it is accepted until its
//! client has been sent either a reply or the failure reply. While
//! outstanding it is either queued (waiting for an idle worker) or in
//! flight (one attempt at one worker).
//!
//! The table is a slab: a request's id is its slot's index and the
//! slot's generation, so a lookup is an array index and a check, and a
//! million queued requests cost one record each, with no hash map slack.

use bytes::Bytes;
use corsair_proto::{lists, Frames, ReturnPath};

use crate::peer::PeerId;
use crate::service::ServiceKey;

/// The broker's name for a request, and the one envelope frame a worker
/// sees and echoes: its slot in the table (low 32 bits) and the slot's
/// generation (high 32 bits), which changes each time the slot is
/// reused, so an id stays unique until one slot has been used 2^32
/// times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// The bytes of the 8-byte envelope frame that carries this id to a
    /// worker (the broker writes them into a shared chunk).
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
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
    /// Dispatched to `worker`, as the request's
    /// [`Request::dispatches`]-th dispatch.
    InFlight {
        /// The worker.
        worker: PeerId,
    },
}

/// A request's body frames, resent on every attempt. A body of one
/// frame (the common case) is held without a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Exactly one frame.
    One(Bytes),
    /// None or several frames.
    Many(Frames),
}

impl Body {
    /// The body of these frames. A list of one frame is given back to
    /// the thread's spares ([`corsair_proto::lists`]).
    pub fn new(mut frames: Frames) -> Self {
        match frames.len() {
            1 => {
                let frame = frames.pop().expect("one frame");
                lists::give(frames);
                Body::One(frame)
            }
            _ => Body::Many(frames),
        }
    }

    /// The frames.
    pub fn frames(&self) -> &[Bytes] {
        match self {
            Body::One(frame) => std::slice::from_ref(frame),
            Body::Many(frames) => frames,
        }
    }
}

/// One outstanding request. It is kept small: a million of them may be
/// queued.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where the reply goes.
    pub route: Route,
    /// The service that serves it.
    pub service: ServiceKey,
    /// The body, resent on every attempt.
    pub body: Body,
    /// Attempts made so far: what the attempt limit counts (a dispatch
    /// that could not be sent is taken back).
    pub attempts: u32,
    /// Dispatches so far, never taken back: the number that names the
    /// current attempt in deadlines and workers' records, so a deadline
    /// of a taken-back dispatch can never match a later one.
    pub dispatches: u32,
    /// Queued or in flight.
    pub state: RequestState,
    /// Partial replies (MDP/0.2) of the current attempt held for a client
    /// that takes one reply only (`None` while there are none: most
    /// requests never have any, so they do not pay for a list).
    pub partial: Option<Box<Frames>>,
    /// True once a partial reply has been passed on to the client: the
    /// request can no longer be retried without repeating it.
    pub streamed: bool,
}

impl Request {
    /// Drops an ended request, giving its lists back to the thread's
    /// spares ([`corsair_proto::lists`]) for the next messages.
    pub fn recycle(self) {
        lists::give(self.route.path.envelope);
        if let Body::Many(frames) = self.body {
            lists::give(frames);
        }
        if let Some(partial) = self.partial {
            lists::give(*partial);
        }
    }

    /// The worker and the dispatch number, while in flight.
    pub fn in_flight(&self) -> Option<(&PeerId, u32)> {
        match &self.state {
            RequestState::InFlight { worker } => Some((worker, self.dispatches)),
            RequestState::Queued { .. } => None,
        }
    }
}

/// One slot of the table: its generation, and the request it holds.
#[derive(Debug)]
struct Slot {
    generation: u32,
    request: Option<Request>,
}

/// All outstanding requests, by id.
#[derive(Debug, Default)]
pub struct Requests {
    slots: Vec<Slot>,
    /// Empty slots, reused last-freed first.
    free: Vec<u32>,
    len: usize,
    next_epoch: u64,
    queued: usize,
}

impl Requests {
    /// Adds a new queued request and returns its id and queue epoch.
    pub fn insert(&mut self, route: Route, service: ServiceKey, body: Frames) -> (RequestId, u64) {
        let epoch = self.bump_epoch();
        let request = Request {
            route,
            service,
            body: Body::new(body),
            attempts: 0,
            dispatches: 0,
            state: RequestState::Queued { epoch },
            partial: None,
            streamed: false,
        };
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 requests");
                self.slots.push(Slot {
                    generation: 0,
                    request: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.request = Some(request);
        self.len += 1;
        self.queued += 1;
        (
            RequestId(u64::from(slot.generation) << 32 | u64::from(index)),
            epoch,
        )
    }

    fn slot(&self, id: RequestId) -> Option<&Slot> {
        let slot = self.slots.get((id.0 & 0xffff_ffff) as usize)?;
        (u64::from(slot.generation) == id.0 >> 32).then_some(slot)
    }

    fn slot_mut(&mut self, id: RequestId) -> Option<&mut Slot> {
        let slot = self.slots.get_mut((id.0 & 0xffff_ffff) as usize)?;
        (u64::from(slot.generation) == id.0 >> 32).then_some(slot)
    }

    fn bump_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// The ids of every outstanding request, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            slot.request
                .as_ref()
                .map(|_| RequestId(u64::from(slot.generation) << 32 | index as u64))
        })
    }

    /// The request, if still outstanding.
    pub fn get(&self, id: RequestId) -> Option<&Request> {
        self.slot(id)?.request.as_ref()
    }

    /// True when `id` is outstanding and still queued since `epoch`: a
    /// queue entry or wait deadline made then still applies.
    pub fn is_queued_at(&self, id: RequestId, epoch: u64) -> bool {
        self.get(id)
            .is_some_and(|r| r.state == RequestState::Queued { epoch })
    }

    /// The request, to change, if still outstanding.
    pub fn get_mut(&mut self, id: RequestId) -> Option<&mut Request> {
        self.slot_mut(id)?.request.as_mut()
    }

    /// Requests waiting in a queue, over all services.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Outstanding requests, queued or in flight.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marks a queued request as dispatched to `worker`; returns the
    /// dispatch number that names this attempt, or `None` if the request
    /// is not queued.
    pub fn start_attempt(&mut self, id: RequestId, worker: PeerId) -> Option<u32> {
        let req = self.get_mut(id)?;
        if !matches!(req.state, RequestState::Queued { .. }) {
            return None;
        }
        req.attempts += 1;
        req.dispatches += 1;
        req.state = RequestState::InFlight { worker };
        let dispatch = req.dispatches;
        self.queued -= 1;
        Some(dispatch)
    }

    /// Puts an in-flight request back in the queued state, dropping any
    /// partial reply held for it; returns the new queue epoch.
    pub fn requeue(&mut self, id: RequestId) -> Option<u64> {
        let epoch = self.bump_epoch();
        let req = self.get_mut(id)?;
        if matches!(req.state, RequestState::Queued { .. }) {
            return None;
        }
        req.state = RequestState::Queued { epoch };
        req.partial = None;
        self.queued += 1;
        Some(epoch)
    }

    /// Puts an in-flight request back in the queued state as if its
    /// current attempt had never been made (its dispatch could not be
    /// sent); returns the new queue epoch.
    pub fn undo_attempt(&mut self, id: RequestId) -> Option<u64> {
        let epoch = self.requeue(id)?;
        let req = self.get_mut(id)?;
        req.attempts = req.attempts.saturating_sub(1);
        Some(epoch)
    }

    /// Ends a request, returning it.
    #[inline]
    pub fn remove(&mut self, id: RequestId) -> Option<Request> {
        let req = self.slot_mut(id)?.request.take()?;
        self.free.push((id.0 & 0xffff_ffff) as u32);
        self.len -= 1;
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

    /// The id frame as a worker echoes it.
    fn frame(id: RequestId) -> Bytes {
        Bytes::copy_from_slice(&id.to_bytes())
    }

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
        assert_eq!(RequestId::from_envelope(&[frame(id)]), Some(id));
        assert_eq!(
            RequestId::from_envelope(&[Bytes::from_static(b"short")]),
            None
        );
        assert_eq!(RequestId::from_envelope(&[frame(id), frame(id)]), None);
        assert_eq!(RequestId::from_envelope(&[]), None);
    }

    #[test]
    fn queued_count_follows_state_changes() {
        let mut r = Requests::default();
        let (a, _) = r.insert(route(), ServiceKey::TEST, vec![]);
        let (b, _) = r.insert(route(), ServiceKey::TEST, vec![]);
        assert_eq!(r.queued(), 2);
        assert_eq!(r.start_attempt(a, w()), Some(1));
        assert_eq!(r.start_attempt(a, w()), None);
        assert_eq!(r.queued(), 1);
        assert!(r.requeue(a).is_some());
        assert_eq!(r.queued(), 2);
        assert_eq!(r.start_attempt(a, w()), Some(2));
        // A dispatch taken back does not count as an attempt, but the
        // next one gets a new number.
        assert!(r.undo_attempt(a).is_some());
        assert_eq!(r.get(a).unwrap().attempts, 1);
        assert_eq!(r.start_attempt(a, w()), Some(3));
        assert_eq!(r.get(a).unwrap().attempts, 2);
        r.remove(a);
        r.remove(b);
        assert_eq!((r.queued(), r.len()), (0, 0));
    }

    #[test]
    fn a_reused_slot_gets_a_new_id_and_old_ids_find_nothing() {
        let mut r = Requests::default();
        let (a, _) = r.insert(route(), ServiceKey::TEST, vec![Bytes::from_static(b"x")]);
        assert_eq!(r.get(a).unwrap().body, Body::One(Bytes::from_static(b"x")));
        assert!(r.remove(a).is_some());
        assert!(r.remove(a).is_none());
        let (b, _) = r.insert(route(), ServiceKey::TEST, vec![]);
        assert_ne!(a, b);
        assert_eq!(a.0 & 0xffff_ffff, b.0 & 0xffff_ffff, "the slot is reused");
        assert!(r.get(a).is_none());
        assert!(r.requeue(a).is_none());
        assert!(r.get(b).is_some());
        assert_eq!(r.len(), 1);
    }
}
