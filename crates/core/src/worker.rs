//! The worker registry: who is connected, what each is doing, and when
//! each is due to be declared dead.

use std::time::Instant;

use corsair_proto::arena::Arena;
use corsair_proto::WorkerDialect;

use crate::hashing::SlotIndex;
use crate::peer::PeerId;
use crate::request::{HeldList, RequestId, Requests};
use crate::service::ServiceKey;
use crate::slab;

/// The most requests one worker may hold, whatever it announces.
pub const MAX_CREDIT: u32 = 1024;

/// The idle epoch of a worker with no idle-queue entry (a new worker, or
/// one whose credit is used up); epochs handed out start at 1.
pub const NO_ENTRY: u64 = 0;

/// One connected worker. The fields dispatch reads and writes come first;
/// with its slot's alignment the whole record is one aligned pair of
/// cache lines.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Worker {
    /// Bumped every time the worker gets a new idle-queue entry, to tell
    /// its current entry from stale ones; [`NO_ENTRY`] while it has none
    /// because its credit is used up.
    pub idle_epoch: u64,
    /// The attempts it holds now, listed in the requests' records.
    pub held: HeldList,
    /// Requests it may hold at once: 1 (the zguide's workers), or what it
    /// announced with READY.
    pub credit: u32,
    /// An attempt of it timed out (or, for a fetch worker, it has not
    /// asked again yet): no new work until it shows a sign of life.
    pub suspect: bool,
    /// The wire dialect it speaks.
    pub dialect: WorkerDialect,
    /// When it was last given a request. A request tells a worker the
    /// broker is alive, so a heartbeat round sends no HEARTBEAT to a
    /// worker given one within the last half interval (with 1,000
    /// workers served in turn, most of them).
    pub last_sent: Option<Instant>,
    /// Where it is connected.
    pub peer: PeerId,
    /// When it is declared dead unless heard from (`None`: never, for
    /// workers without heartbeats).
    pub expires_at: Option<Instant>,
    /// The service it serves.
    pub service: ServiceKey,
}

/// A slab slot, aligned so that a record never straddles more lines
/// than its size needs.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(Option<Worker>);

impl Worker {
    /// True when the worker sends and expects heartbeats.
    pub fn heartbeats(&self) -> bool {
        self.dialect.heartbeats()
    }

    /// True when it may be given a request now.
    pub fn available(&self) -> bool {
        !self.suspect && self.held.len() < self.credit
    }

    /// True while it holds a request.
    pub fn busy(&self) -> bool {
        !self.held.is_empty()
    }
}

/// A worker's place in the registry: names it without hashing its
/// identity, for the idle queues. A slot is reused once its worker is
/// forgotten; idle-queue entries tell the two apart by their epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerKey(pub(crate) u32);

/// All known workers, by socket and ROUTER identity.
///
/// The records sit in a slab, found by [`WorkerKey`] from the idle
/// queues (the dispatch path: one array index, no hashing, no identity
/// compare) and by [`PeerId`] through an index for messages from the
/// wire.
#[derive(Debug, Default)]
pub struct Workers {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slot numbers, hashed by the peer in the slot's record: with
    /// 10,000 workers the index fits in the CPU's second-level cache.
    index: SlotIndex,
    next_epoch: u64,
    /// Where the workers' identities are copied, dozens to a chunk: the
    /// chunk's one reference count is what every dispatch touches when
    /// it puts a worker's identity on an output, and a count shared by
    /// many workers stays in the CPU's cache (see [`Workers::insert`]).
    names: Arena,
}

impl Workers {
    /// Registers a worker not known yet, suspect until the caller makes
    /// it idle, with `credit` capped at [`MAX_CREDIT`]. Returns its slot.
    /// The record keeps its own copy of the identity, packed with other
    /// workers' identities: one chunk of 2 KiB stays allocated while any
    /// worker named in it is known.
    pub fn insert(
        &mut self,
        peer: PeerId,
        dialect: WorkerDialect,
        service: ServiceKey,
        credit: u32,
    ) -> WorkerKey {
        debug_assert!(
            self.key(&peer).is_none(),
            "a known worker is forgotten first"
        );
        let peer = PeerId::new(peer.side, self.names.copy(&peer.identity));
        let worker = Worker {
            peer: peer.clone(),
            dialect,
            service,
            credit: credit.clamp(1, MAX_CREDIT),
            held: HeldList::default(),
            suspect: true,
            last_sent: None,
            idle_epoch: NO_ENTRY,
            expires_at: None,
        };
        let key = WorkerKey(slab::place(
            &mut self.slots,
            &mut self.free,
            Slot(Some(worker)),
        ));
        let slots = &self.slots;
        self.index.insert(&peer, key.0, |k| peer_at(slots, k));
        key
    }

    /// The key of the worker at this peer.
    pub fn key(&self, peer: &PeerId) -> Option<WorkerKey> {
        let slots = &self.slots;
        self.index.find(peer, |k| peer_at(slots, k)).map(WorkerKey)
    }

    /// The worker in slot `key`, if one is there.
    pub fn at(&self, key: WorkerKey) -> Option<&Worker> {
        self.slots.get(key.0 as usize)?.0.as_ref()
    }

    /// The worker in slot `key`, to change.
    pub fn at_mut(&mut self, key: WorkerKey) -> Option<&mut Worker> {
        self.slots.get_mut(key.0 as usize)?.0.as_mut()
    }

    /// The worker at this peer.
    pub fn get(&self, peer: &PeerId) -> Option<&Worker> {
        self.at(self.key(peer)?)
    }

    /// The worker at this peer, to change.
    pub fn get_mut(&mut self, peer: &PeerId) -> Option<&mut Worker> {
        let key = self.key(peer)?;
        self.at_mut(key)
    }

    /// Forgets a worker; returns it and the attempts it held, released
    /// (request, dispatch number), oldest first.
    pub fn remove(
        &mut self,
        peer: &PeerId,
        requests: &mut Requests,
    ) -> Option<(Worker, Vec<(RequestId, u32)>)> {
        let slots = &self.slots;
        let key = self.index.remove(peer, |k| peer_at(slots, k))?;
        let mut w = self.slots[key as usize].0.take()?;
        self.free.push(key);
        let held = requests.release_all(&mut w.held);
        Some((w, held))
    }

    /// Clears the suspicion of the worker in slot `key` (a sign of life:
    /// a reply, a heartbeat, READY); returns it, with the epoch of a new
    /// idle-queue entry when it has become available for work, or `None`
    /// when the slot is empty.
    ///
    /// A worker that has an entry already (it had credit left and was not
    /// suspect) keeps it, and with it its place in the queue: a reply
    /// frees a credit, but it is not a use, so it does not make the
    /// worker the most recently used. Renewing the entry on every reply
    /// would also grow the queue by a stale entry a reply; with 1,000
    /// workers of credit 64 that could make it tens of thousands of
    /// entries long, all of them cold in the CPU's cache by the time
    /// dispatch skipped them.
    pub fn set_idle(&mut self, key: WorkerKey) -> Option<(Option<u64>, &mut Worker)> {
        let w = self.slots.get_mut(key.0 as usize)?.0.as_mut()?;
        let listed = !w.suspect && w.idle_epoch != NO_ENTRY;
        w.suspect = false;
        if listed || !w.available() {
            return Some((None, w));
        }
        self.next_epoch += 1;
        w.idle_epoch = self.next_epoch;
        Some((Some(self.next_epoch), w))
    }

    /// Gives the worker in slot `key` the current attempt of the in-flight
    /// request `request` at `now`: returns its dialect and, when it still
    /// has credit left, the epoch of a new idle-queue entry (one lookup
    /// for both); `None` if the slot is empty or the request cannot be
    /// held.
    pub fn take(
        &mut self,
        key: WorkerKey,
        requests: &mut Requests,
        request: RequestId,
        now: Instant,
    ) -> Option<(WorkerDialect, Option<u64>)> {
        let w = self.slots.get_mut(key.0 as usize)?.0.as_mut()?;
        if !requests.hold(request, key, &mut w.held) {
            return None;
        }
        w.last_sent = Some(now);
        if !w.available() {
            w.idle_epoch = NO_ENTRY;
            return Some((w.dialect, None));
        }
        self.next_epoch += 1;
        w.idle_epoch = self.next_epoch;
        Some((w.dialect, Some(self.next_epoch)))
    }

    /// True when the worker in slot `key` can take work and `epoch` is
    /// its current idle-queue entry.
    pub fn is_idle_at(&self, key: WorkerKey, epoch: u64) -> bool {
        self.at(key)
            .is_some_and(|w| w.available() && w.idle_epoch == epoch)
    }

    /// Every known worker, with its slot.
    pub fn keyed(&self) -> impl Iterator<Item = (WorkerKey, &Worker)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((WorkerKey(i as u32), s.0.as_ref()?)))
    }

    /// Attempts held by all workers together, by their counts (a walk
    /// over every worker, for checks, not for the hot path).
    pub fn attempts_held(&self) -> usize {
        self.iter().map(|w| w.held.len() as usize).sum()
    }

    /// Every known worker and its dialect.
    pub fn peers(&self) -> Vec<(PeerId, WorkerDialect)> {
        self.iter().map(|w| (w.peer.clone(), w.dialect)).collect()
    }

    /// Number of known workers.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no worker is known.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Heartbeating workers whose dialect `family` selects: those due to
    /// expire by `now` and the rest.
    pub fn partition_expired(
        &self,
        now: Instant,
        family: impl Fn(WorkerDialect) -> bool,
    ) -> (Vec<PeerId>, Vec<PeerId>) {
        let mut expired = Vec::new();
        let mut alive = Vec::new();
        for w in self.iter() {
            if !family(w.dialect) {
                continue;
            }
            if let Some(at) = w.expires_at {
                if at <= now {
                    expired.push(w.peer.clone());
                } else {
                    alive.push(w.peer.clone());
                }
            }
        }
        (expired, alive)
    }

    fn iter(&self) -> impl Iterator<Item = &Worker> {
        self.slots.iter().filter_map(|s| s.0.as_ref())
    }
}

/// The peer of the worker in slot `key`, which the index holds only while
/// the slot is taken.
fn peer_at(slots: &[Slot], key: u32) -> &PeerId {
    &slots[key as usize]
        .0
        .as_ref()
        .expect("indexed slots hold a worker")
        .peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::Side;
    use bytes::Bytes;

    fn peer(id: &'static str) -> PeerId {
        PeerId::new(Side::Backend, Bytes::from_static(id.as_bytes()))
    }

    fn add(workers: &mut Workers, id: &'static str, credit: u32) -> (WorkerKey, u64) {
        let key = workers.insert(peer(id), WorkerDialect::Fetch, ServiceKey::TEST, credit);
        let (entry, _) = workers.set_idle(key).expect("just inserted");
        (key, entry.expect("a new worker has credit"))
    }

    /// A field more would make every slot 256 bytes (the alignment).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_worker_record_fits_its_two_cache_lines() {
        assert_eq!(std::mem::size_of::<Slot>(), 128);
    }

    #[test]
    fn a_reused_slot_does_not_answer_for_its_old_idle_entry() {
        let mut workers = Workers::default();
        let (a, a_epoch) = add(&mut workers, "a", 1);
        assert!(workers.is_idle_at(a, a_epoch));
        workers
            .remove(&peer("a"), &mut Requests::default())
            .expect("known");
        assert!(!workers.is_idle_at(a, a_epoch), "a is gone");
        let (b, b_epoch) = add(&mut workers, "b", 1);
        assert_eq!(b, a, "b takes the free slot");
        assert!(
            !workers.is_idle_at(b, a_epoch),
            "a's stale entry is not b's"
        );
        assert!(workers.is_idle_at(b, b_epoch));
        assert!(workers.get(&peer("a")).is_none());
        assert_eq!(workers.at(b).map(|w| w.peer.clone()), Some(peer("b")));
        assert_eq!(workers.len(), 1);
    }

    #[test]
    fn identities_are_copied_side_by_side_and_still_name_their_workers() {
        let mut workers = Workers::default();
        let own = |s: &str| PeerId::new(Side::Backend, Bytes::from(s.as_bytes().to_vec()));
        let a = workers.insert(own("worker-a"), WorkerDialect::Fetch, ServiceKey::TEST, 1);
        let b = workers.insert(own("worker-b"), WorkerDialect::Fetch, ServiceKey::TEST, 1);
        let ida = &workers.at(a).expect("known").peer.identity;
        let idb = &workers.at(b).expect("known").peer.identity;
        assert_eq!(ida.as_ref(), b"worker-a");
        assert_eq!(
            idb.as_ptr() as usize - ida.as_ptr() as usize,
            8,
            "b's identity follows a's in one chunk"
        );
        assert!(!ida.is_unique(), "the chunk is shared");
        assert_eq!(workers.key(&own("worker-b")), Some(b));
    }

    #[test]
    fn taking_work_renews_the_entry_only_while_credit_is_left() {
        let mut workers = Workers::default();
        let mut requests = Requests::default();
        let now = Instant::now();
        let (key, first) = add(&mut workers, "w", 2);
        let [r1, r2, r3] = [(); 3].map(|_| crate::request::tests::in_flight(&mut requests));
        let (_, renewed) = workers.take(key, &mut requests, r1, now).expect("known");
        let renewed = renewed.expect("one credit left");
        assert!(!workers.is_idle_at(key, first), "the old entry is spent");
        assert!(workers.is_idle_at(key, renewed));
        let (_, none) = workers.take(key, &mut requests, r2, now).expect("known");
        assert_eq!(none, None, "no credit left");
        assert!(!workers.is_idle_at(key, renewed));
        assert_eq!(workers.attempts_held(), 2);
        assert_eq!(
            workers.take(key, &mut requests, r2, now),
            None,
            "an attempt is held once"
        );
        let w = workers.at_mut(key).expect("known");
        assert_eq!(requests.release(r1, &mut w.held), Some(key));
        assert!(w.available(), "a released attempt frees a credit");
        assert_eq!(workers.attempts_held(), 1);
        assert!(workers.take(key, &mut requests, r3, now).is_some());
        assert!(!workers.at(key).expect("known").available());
    }
}
