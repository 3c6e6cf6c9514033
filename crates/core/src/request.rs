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
use crate::worker::WorkerKey;

/// No slot: the end of a list of held attempts, or no holder.
const NIL: u32 = u32::MAX;

/// The attempts one worker holds, oldest first, as a list threaded
/// through the requests' own records ([`Request`]'s link): dispatch and
/// the reply touch those records anyway, where a list of its own in
/// each worker would be one more line the other workers had pushed out
/// of the CPU's cache by the worker's next turn. Replies come back
/// mostly in the order the attempts went out, so taking the oldest out
/// touches only the next one, whose reply is due next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldList {
    head: u32,
    tail: u32,
    len: u32,
}

impl Default for HeldList {
    fn default() -> Self {
        HeldList {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl HeldList {
    /// Attempts held.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A request's place in its holder's [`HeldList`]: the holder's slot and
/// the neighbours' slots, [`NIL`] for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    holder: u32,
    prev: u32,
    next: u32,
}

impl Link {
    const NONE: Link = Link {
        holder: NIL,
        prev: NIL,
        next: NIL,
    };
}

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
    /// The worker holding its current attempt, if one does, and its
    /// neighbours in that worker's list.
    link: Link,
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

    /// The worker holding the current attempt: from dispatch until the
    /// worker answers, is lost, or the broker stops waiting for it. A
    /// fetch worker lets go when it asks again, while the request stays
    /// in flight until its answer or its timeout.
    pub fn holder(&self) -> Option<WorkerKey> {
        (self.link.holder != NIL).then_some(WorkerKey(self.link.holder))
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
            link: Link::NONE,
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

    fn id_at(&self, index: u32) -> RequestId {
        RequestId(u64::from(self.slots[index as usize].generation) << 32 | u64::from(index))
    }

    fn link_at(&mut self, index: u32) -> &mut Link {
        &mut self.slots[index as usize]
            .request
            .as_mut()
            .expect("a listed slot holds a request")
            .link
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
        debug_assert_eq!(req.link.holder, NIL, "a held request is released first");
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

    /// Records that worker `holder` holds the current attempt of the
    /// in-flight request `id`, at the end of `list`, that worker's list.
    /// False (and nothing changes) if the request is not outstanding or
    /// already held.
    pub fn hold(&mut self, id: RequestId, holder: WorkerKey, list: &mut HeldList) -> bool {
        let index = (id.0 & 0xffff_ffff) as u32;
        let Some(req) = self.get_mut(id) else {
            return false;
        };
        if req.link.holder != NIL {
            return false;
        }
        req.link = Link {
            holder: holder.0,
            prev: list.tail,
            next: NIL,
        };
        match list.tail {
            NIL => list.head = index,
            tail => self.link_at(tail).next = index,
        }
        list.tail = index;
        list.len += 1;
        true
    }

    /// Takes request `id` out of `list`, its holder's; returns the holder
    /// it had, or `None` (and nothing changes) if no worker held it.
    /// `list` must be the list of the holder [`Request::holder`] names.
    pub fn release(&mut self, id: RequestId, list: &mut HeldList) -> Option<WorkerKey> {
        let req = self.get_mut(id)?;
        let Link { holder, prev, next } = std::mem::replace(&mut req.link, Link::NONE);
        if holder == NIL {
            return None;
        }
        match prev {
            NIL => list.head = next,
            prev => self.link_at(prev).next = next,
        }
        match next {
            NIL => list.tail = prev,
            next => self.link_at(next).prev = prev,
        }
        list.len -= 1;
        Some(WorkerKey(holder))
    }

    /// The requests in `list`, oldest first.
    pub fn listed<'a>(&'a self, list: &HeldList) -> impl Iterator<Item = RequestId> + 'a {
        let mut at = list.head;
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let id = self.id_at(at);
            at = self.slots[at as usize]
                .request
                .as_ref()
                .expect("a listed slot holds a request")
                .link
                .next;
            Some(id)
        })
    }

    /// Empties `list`: no request in it is held any more. Returns what
    /// was held, (request, dispatch number), oldest first.
    pub fn release_all(&mut self, list: &mut HeldList) -> Vec<(RequestId, u32)> {
        let mut held = Vec::with_capacity(list.len as usize);
        let mut at = list.head;
        while at != NIL {
            let id = self.id_at(at);
            let req = self.slots[at as usize]
                .request
                .as_mut()
                .expect("a listed slot holds a request");
            held.push((id, req.dispatches));
            at = std::mem::replace(&mut req.link, Link::NONE).next;
        }
        *list = HeldList::default();
        held
    }

    /// Ends a request, returning it. A held request must be released
    /// first ([`Requests::release`]): the list it is in would break.
    #[inline]
    pub fn remove(&mut self, id: RequestId) -> Option<Request> {
        debug_assert!(
            self.get(id).is_none_or(|r| r.link.holder == NIL),
            "a held request is released before it ends"
        );
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
pub(crate) mod tests {
    use super::*;

    use crate::peer::Side;
    use corsair_proto::ClientDialect;

    /// The id frame as a worker echoes it.
    fn frame(id: RequestId) -> Bytes {
        Bytes::copy_from_slice(&id.to_bytes())
    }

    /// A new request of no service in particular, dispatched (its first
    /// attempt started) and held by no worker yet.
    pub(crate) fn in_flight(requests: &mut Requests) -> RequestId {
        let (id, _) = requests.insert(route(), ServiceKey::TEST, vec![]);
        requests.start_attempt(id, w()).expect("queued");
        id
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

    /// The requests `list` holds, checked against its count.
    fn listed(r: &Requests, list: &HeldList) -> Vec<RequestId> {
        let ids: Vec<RequestId> = r.listed(list).collect();
        assert_eq!(
            ids.len(),
            list.len() as usize,
            "the count follows the links"
        );
        ids
    }

    #[test]
    fn a_held_list_keeps_its_order_through_releases_anywhere_in_it() {
        let mut r = Requests::default();
        let (mut list, mut other) = (HeldList::default(), HeldList::default());
        let (wa, wb) = (WorkerKey(3), WorkerKey(4));
        let ids = [(); 5].map(|_| in_flight(&mut r));
        for &id in &ids {
            assert!(r.hold(id, wa, &mut list));
        }
        assert!(
            !r.hold(ids[2], wb, &mut other),
            "held by one worker at a time"
        );
        assert_eq!(r.get(ids[2]).unwrap().holder(), Some(wa));
        assert_eq!(listed(&r, &list), ids);
        // The middle, the oldest (how replies mostly come), the newest.
        assert_eq!(r.release(ids[2], &mut list), Some(wa));
        assert_eq!(r.release(ids[2], &mut list), None, "released once");
        assert_eq!(r.release(ids[0], &mut list), Some(wa));
        assert_eq!(r.release(ids[4], &mut list), Some(wa));
        assert_eq!(listed(&r, &list), [ids[1], ids[3]]);
        assert_eq!(r.get(ids[2]).unwrap().holder(), None);
        // A released request can be held again, by another worker.
        assert!(r.hold(ids[2], wb, &mut other));
        assert_eq!(listed(&r, &other), [ids[2]]);
        let dispatch = |id: RequestId| r.get(id).unwrap().dispatches;
        let expected = vec![(ids[1], dispatch(ids[1])), (ids[3], dispatch(ids[3]))];
        assert_eq!(r.release_all(&mut list), expected);
        assert_eq!(listed(&r, &list), []);
        assert!(r.get(ids[1]).unwrap().holder().is_none());
        assert_eq!(listed(&r, &other), [ids[2]], "the other list is untouched");
        assert_eq!(r.release(ids[2], &mut other), Some(wb));
        for id in ids {
            assert!(r.remove(id).is_some());
        }
        assert!(r.is_empty());
    }
}
