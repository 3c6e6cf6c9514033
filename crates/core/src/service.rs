//! Per-service queues: idle workers (least recently used first) and
//! requests waiting for one; and the registry of services, by name and
//! by [`ServiceKey`]. A service that no worker serves and no request
//! names is forgotten, so that clients naming ever new services cannot
//! grow the registry without bound.
//!
//! Both queues allow O(1) removal from the middle by lazy deletion: an
//! entry carries the epoch at which it was pushed, and entries whose
//! epoch no longer matches their owner's current one are skipped when
//! they reach the front.

use std::collections::VecDeque;

use bytes::Bytes;
use corsair_proto::arena;

use crate::hashing::HashMap;
use crate::request::RequestId;
use crate::slab;
use crate::worker::WorkerKey;

/// A service's place in [`Services`]: names it without hashing its name.
/// A key stays valid while a worker or request holds it: a service is
/// forgotten only once it has neither, and its key may then name a new
/// service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceKey(u32);

#[cfg(test)]
impl ServiceKey {
    /// A key for tests of records that keep one, with no registry.
    pub(crate) const TEST: ServiceKey = ServiceKey(0);
}

/// Every service the broker has heard of, by name (for messages from the
/// wire) and by [`ServiceKey`] (for workers' and requests' records: the
/// dispatch and reply paths index an array instead of hashing a name).
#[derive(Debug, Default)]
pub struct Services {
    index: HashMap<Bytes, ServiceKey>,
    slots: Vec<Service>,
    /// Slots of forgotten services, for new ones.
    free: Vec<u32>,
    /// Services that may have neither workers nor requests: new ones,
    /// and those whose last worker or request just went. Looked at by
    /// [`Services::forget_unused`].
    maybe_unused: Vec<ServiceKey>,
}

impl Services {
    /// The key of the service called `name`, made if new. A new service
    /// keeps its own copy of the name, sharing no allocation with the
    /// message it came in, so the message's buffers are not kept alive.
    pub fn key(&mut self, name: Bytes) -> ServiceKey {
        if let Some(&key) = self.index.get(&name) {
            return key;
        }
        let mut name = name;
        arena::detach(&mut name);
        let service = Service {
            name: name.clone(),
            ..Service::default()
        };
        let key = ServiceKey(slab::place(&mut self.slots, &mut self.free, service));
        self.index.insert(name, key);
        // Until a request or worker takes it, nothing else keeps it.
        self.maybe_unused.push(key);
        key
    }

    /// A new request naming `key` was accepted: it is counted, and
    /// queued (at the back) for the service's next idle worker.
    pub fn request_started(&mut self, key: ServiceKey, id: RequestId, epoch: u64) {
        let s = self.at_mut(key);
        s.requests += 1;
        s.push_request(id, epoch);
    }

    /// A request naming `key` ended; if it was the service's last and no
    /// worker serves it, the next [`Services::forget_unused`] forgets it.
    pub fn request_ended(&mut self, key: ServiceKey) {
        let s = self.at_mut(key);
        debug_assert!(s.requests > 0, "a request ended that never started");
        s.requests = s.requests.saturating_sub(1);
        self.note_if_unused(key);
    }

    /// A worker registered for `key`.
    pub fn worker_joined(&mut self, key: ServiceKey) {
        self.at_mut(key).workers += 1;
    }

    /// A worker of `key` left; if it was the service's last and no
    /// request names it, the next [`Services::forget_unused`] forgets it.
    pub fn worker_left(&mut self, key: ServiceKey) {
        let s = self.at_mut(key);
        s.workers = s.workers.saturating_sub(1);
        self.note_if_unused(key);
    }

    fn note_if_unused(&mut self, key: ServiceKey) {
        if self.at(key).is_unused() {
            self.maybe_unused.push(key);
        }
    }

    /// True when some service may be unused (a quick test).
    pub fn may_forget(&self) -> bool {
        !self.maybe_unused.is_empty()
    }

    /// Forgets every noted service that still has neither workers nor
    /// requests, except `keep`; returns how many.
    pub fn forget_unused(&mut self, keep: ServiceKey) -> usize {
        let mut forgotten = 0;
        for key in self.maybe_unused.drain(..) {
            let service = &self.slots[key.0 as usize];
            // A key noted twice is forgotten once: the second time its
            // name no longer leads to it.
            let known = self.index.get(&service.name) == Some(&key);
            if key == keep || !known || !service.is_unused() {
                continue;
            }
            let service = std::mem::take(&mut self.slots[key.0 as usize]);
            self.index.remove(&service.name);
            self.free.push(key.0);
            forgotten += 1;
        }
        forgotten
    }

    /// The service called `name`, if it is known.
    pub fn find(&self, name: &[u8]) -> Option<&Service> {
        self.index.get(name).map(|&key| self.at(key))
    }

    /// The service with key `key`.
    pub fn at(&self, key: ServiceKey) -> &Service {
        &self.slots[key.0 as usize]
    }

    /// The service with key `key`, to change.
    pub fn at_mut(&mut self, key: ServiceKey) -> &mut Service {
        &mut self.slots[key.0 as usize]
    }

    /// The name of the service with key `key`.
    pub fn name(&self, key: ServiceKey) -> &Bytes {
        &self.at(key).name
    }

    /// Number of services known.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no service is known.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// One service: who can serve it and what waits for it.
#[derive(Debug, Default)]
pub struct Service {
    /// Its name, as clients and workers spell it.
    pub name: Bytes,
    idle: VecDeque<(WorkerKey, u64)>,
    pending: VecDeque<(RequestId, u64)>,
    /// The worker this turn's requests go to while it has credit: its
    /// slot, idle epoch and the requests it got this turn. It is out of
    /// `idle` until the turn ends.
    held: Option<(WorkerKey, u64, u32)>,
    /// Workers registered for this service, idle or busy; changed only
    /// through [`Services`], which forgets a service once this and
    /// `requests` are both zero.
    workers: usize,
    /// Requests naming this service, queued or in flight.
    requests: usize,
}

impl Service {
    /// Workers registered for this service, idle or busy.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// True when no worker serves it and no request names it.
    pub fn is_unused(&self) -> bool {
        self.workers == 0 && self.requests == 0 && self.held.is_none()
    }

    /// Appends a worker that just became idle (most recently used last).
    pub fn push_idle(&mut self, worker: WorkerKey, epoch: u64) {
        self.idle.push_back((worker, epoch));
    }

    /// Entries in the idle queue, stale ones included.
    #[cfg(test)]
    pub(crate) fn idle_entries(&self) -> usize {
        self.idle.len()
    }

    /// Takes the least recently used idle worker for which `is_current`
    /// says its entry is still valid.
    pub fn pop_idle(
        &mut self,
        mut is_current: impl FnMut(WorkerKey, u64) -> bool,
    ) -> Option<(WorkerKey, u64)> {
        while let Some((worker, epoch)) = self.idle.pop_front() {
            if is_current(worker, epoch) {
                return Some((worker, epoch));
            }
        }
        None
    }

    /// Puts back a worker taken by `pop_idle` but not used.
    pub fn unpop_idle(&mut self, worker: WorkerKey, epoch: u64) {
        self.idle.push_front((worker, epoch));
    }

    /// Takes the worker held for this turn if `is_current` says its entry
    /// is still valid.
    pub fn take_held(
        &mut self,
        is_current: impl FnOnce(WorkerKey, u64) -> bool,
    ) -> Option<(WorkerKey, u64, u32)> {
        self.held.take().filter(|&(w, e, _)| is_current(w, e))
    }

    /// Holds a worker for the rest of the turn: it has had `given`
    /// requests in it.
    pub fn hold(&mut self, worker: WorkerKey, epoch: u64, given: u32) {
        self.held = Some((worker, epoch, given));
    }

    /// Ends the turn: the held worker goes back to the idle queue as the
    /// most recently used.
    pub fn release_held(&mut self) {
        if let Some((worker, epoch, _)) = self.held.take() {
            self.push_idle(worker, epoch);
        }
    }

    /// Queues a new request at the back.
    fn push_request(&mut self, id: RequestId, epoch: u64) {
        self.pending.push_back((id, epoch));
    }

    /// Queues a request whose attempt failed at the head of the queue.
    pub fn push_request_front(&mut self, id: RequestId, epoch: u64) {
        self.pending.push_front((id, epoch));
    }

    /// Takes the oldest request for which `is_current` holds.
    pub fn pop_request(
        &mut self,
        mut is_current: impl FnMut(RequestId, u64) -> bool,
    ) -> Option<(RequestId, u64)> {
        while let Some((id, epoch)) = self.pending.pop_front() {
            if is_current(id, epoch) {
                return Some((id, epoch));
            }
        }
        None
    }

    /// True when a request may be waiting (the queue may hold stale
    /// entries, so this is only a quick test before dispatching).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// True when neither queue holds any entry (stale or not) and no
    /// worker is held for the turn.
    pub fn is_drained(&self) -> bool {
        self.idle.is_empty() && self.pending.is_empty() && self.held.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &'static str) -> WorkerKey {
        WorkerKey(u32::from(s.as_bytes()[0]))
    }

    #[test]
    fn idle_workers_come_out_least_recently_used_first() {
        let mut s = Service::default();
        s.push_idle(w("a"), 1);
        s.push_idle(w("b"), 1);
        assert_eq!(s.pop_idle(|_, _| true), Some((w("a"), 1)));
        s.push_idle(w("a"), 2);
        assert_eq!(s.pop_idle(|_, _| true), Some((w("b"), 1)));
        assert_eq!(s.pop_idle(|_, _| true), Some((w("a"), 2)));
        assert_eq!(s.pop_idle(|_, _| true), None);
    }

    #[test]
    fn stale_entries_are_skipped() {
        let mut s = Service::default();
        s.push_idle(w("gone"), 1);
        s.push_idle(w("live"), 3);
        assert_eq!(s.pop_idle(|_, e| e == 3), Some((w("live"), 3)));
        s.push_request(RequestId(1), 1);
        s.push_request(RequestId(2), 1);
        s.push_request_front(RequestId(3), 1);
        assert_eq!(
            s.pop_request(|id, _| id != RequestId(3)),
            Some((RequestId(1), 1))
        );
        assert_eq!(s.pop_request(|_, _| true), Some((RequestId(2), 1)));
        assert!(s.is_drained());
    }

    #[test]
    fn a_name_keeps_its_key_and_a_new_name_gets_a_new_one() {
        let mut services = Services::default();
        let echo = services.key(Bytes::from_static(b"echo"));
        let other = services.key(Bytes::from_static(b"other"));
        assert_ne!(echo, other);
        assert_eq!(services.key(Bytes::from(b"echo".to_vec())), echo);
        assert_eq!(services.len(), 2);
        assert_eq!(services.name(other), "other");
        for _ in 0..3 {
            services.worker_joined(echo);
        }
        assert_eq!(services.find(b"echo").map(Service::workers), Some(3));
        assert!(services.find(b"nobody").is_none());
    }

    #[test]
    fn an_unused_service_is_forgotten_once_and_its_slot_serves_a_new_name() {
        let mut services = Services::default();
        let keep = services.key(Bytes::from_static(b"default"));
        let gone = services.key(Bytes::from_static(b"gone"));
        let busy = services.key(Bytes::from_static(b"busy"));
        services.request_started(busy, RequestId(1), 1);
        services.worker_joined(gone);
        services.worker_left(gone); // noted twice: forgotten once
        assert!(services.may_forget());
        assert_eq!(services.forget_unused(keep), 1);
        assert!(!services.may_forget());
        assert_eq!(services.len(), 2);
        assert!(services.find(b"gone").is_none());
        let new = services.key(Bytes::from_static(b"new"));
        assert_eq!(new, gone, "the free slot is reused");
        assert_eq!(services.name(new), "new");
        assert_eq!(services.at(new).workers(), 0);
        services.request_ended(busy);
        assert_eq!(services.forget_unused(keep), 2, "busy, and new (unused)");
        assert_eq!(services.len(), 1);
        assert!(services.find(b"default").is_some());
    }
}
