//! The worker registry: who is connected, what each is doing, and when
//! each is due to be declared dead.

use rustc_hash::FxHashMap as HashMap;
use std::time::Instant;

use bytes::Bytes;
use corsair_proto::WorkerDialect;

use crate::peer::PeerId;
use crate::request::RequestId;

/// The most requests one worker may hold, whatever it announces.
pub const MAX_CREDIT: u32 = 1024;

/// One connected worker.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The wire dialect it speaks.
    pub dialect: WorkerDialect,
    /// The service it serves.
    pub service: Bytes,
    /// Requests it may hold at once: 1 (the zguide's workers), or what it
    /// announced with READY.
    pub credit: u32,
    /// The attempts it holds now: (request, attempt).
    pub in_flight: Vec<(RequestId, u32)>,
    /// An attempt of it timed out (or, for a fetch worker, it has not
    /// asked again yet): no new work until it shows a sign of life.
    pub suspect: bool,
    /// Bumped every time the worker gets a new idle-queue entry, to tell
    /// its current entry from stale ones.
    pub idle_epoch: u64,
    /// When it is declared dead unless heard from (`None`: never, for
    /// workers without heartbeats).
    pub expires_at: Option<Instant>,
}

impl Worker {
    /// True when the worker sends and expects heartbeats.
    pub fn heartbeats(&self) -> bool {
        self.dialect.heartbeats()
    }

    /// True when it may be given a request now.
    pub fn available(&self) -> bool {
        !self.suspect && (self.in_flight.len() as u32) < self.credit
    }

    /// True while it holds a request.
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// True when it holds attempt `attempt` of `request`.
    pub fn holds(&self, request: RequestId, attempt: u32) -> bool {
        self.in_flight.contains(&(request, attempt))
    }

    /// Lets go of `request` (any attempt); true if it held it.
    pub fn release(&mut self, request: RequestId) -> bool {
        match self.in_flight.iter().position(|(r, _)| *r == request) {
            Some(i) => {
                self.in_flight.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// All known workers, by socket and ROUTER identity.
#[derive(Debug, Default)]
pub struct Workers {
    map: HashMap<PeerId, Worker>,
    next_epoch: u64,
}

impl Workers {
    /// Registers a worker, suspect until the caller makes it idle, with
    /// `credit` capped at [`MAX_CREDIT`]; replaces any earlier entry for
    /// the same peer.
    pub fn insert(&mut self, peer: PeerId, dialect: WorkerDialect, service: Bytes, credit: u32) {
        self.map.insert(
            peer,
            Worker {
                dialect,
                service,
                credit: credit.clamp(1, MAX_CREDIT),
                in_flight: Vec::new(),
                suspect: true,
                idle_epoch: 0,
                expires_at: None,
            },
        );
    }

    /// The worker at this peer.
    pub fn get(&self, peer: &PeerId) -> Option<&Worker> {
        self.map.get(peer)
    }

    /// The worker at this peer, to change.
    pub fn get_mut(&mut self, peer: &PeerId) -> Option<&mut Worker> {
        self.map.get_mut(peer)
    }

    /// Forgets a worker.
    pub fn remove(&mut self, peer: &PeerId) -> Option<Worker> {
        self.map.remove(peer)
    }

    /// Clears the worker's suspicion; returns it, with the epoch of a new
    /// idle-queue entry when it is available for work, or `None` when it
    /// is unknown.
    pub fn set_idle(&mut self, peer: &PeerId) -> Option<(Option<u64>, &mut Worker)> {
        let w = self.map.get_mut(peer)?;
        w.suspect = false;
        if !w.available() {
            return Some((None, w));
        }
        self.next_epoch += 1;
        w.idle_epoch = self.next_epoch;
        Some((Some(self.next_epoch), w))
    }

    /// Gives `peer` attempt `attempt` of `request`: returns its dialect
    /// and, when it still has credit left, the epoch of a new idle-queue
    /// entry (one lookup for all three).
    pub fn take(
        &mut self,
        peer: &PeerId,
        request: RequestId,
        attempt: u32,
    ) -> Option<(WorkerDialect, Option<u64>)> {
        let w = self.map.get_mut(peer)?;
        w.in_flight.push((request, attempt));
        if !w.available() {
            return Some((w.dialect, None));
        }
        self.next_epoch += 1;
        w.idle_epoch = self.next_epoch;
        Some((w.dialect, Some(self.next_epoch)))
    }

    /// True when `peer` can take work and `epoch` is its current entry.
    pub fn is_idle_at(&self, peer: &PeerId, epoch: u64) -> bool {
        self.map
            .get(peer)
            .is_some_and(|w| w.available() && w.idle_epoch == epoch)
    }

    /// Attempts held by all workers together (a walk over every worker,
    /// for checks and diagnostics, not for the hot path).
    pub fn attempts_held(&self) -> usize {
        self.map.values().map(|w| w.in_flight.len()).sum()
    }

    /// Every known worker and its dialect.
    pub fn peers(&self) -> Vec<(PeerId, WorkerDialect)> {
        self.map
            .iter()
            .map(|(p, w)| (p.clone(), w.dialect))
            .collect()
    }

    /// Number of known workers.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no worker is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
        for (peer, w) in &self.map {
            if !family(w.dialect) {
                continue;
            }
            if let Some(at) = w.expires_at {
                if at <= now {
                    expired.push(peer.clone());
                } else {
                    alive.push(peer.clone());
                }
            }
        }
        (expired, alive)
    }
}
