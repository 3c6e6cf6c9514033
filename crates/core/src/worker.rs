//! The worker registry: who is connected, what each is doing, and when
//! each is due to be declared dead.

use rustc_hash::FxHashMap as HashMap;
use std::time::Instant;

use bytes::Bytes;
use corsair_proto::WorkerDialect;

use crate::peer::PeerId;
use crate::request::RequestId;

/// What a worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Waiting for work, in its service's idle queue.
    Idle,
    /// Working on one attempt of one request.
    Busy {
        /// The request.
        request: RequestId,
        /// Which attempt of it.
        attempt: u32,
    },
    /// Its attempt timed out: no new work until it shows a sign of life.
    Suspect,
}

/// One connected worker.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The wire dialect it speaks.
    pub dialect: WorkerDialect,
    /// The service it serves.
    pub service: Bytes,
    /// What it is doing.
    pub state: WorkerState,
    /// Bumped every time the worker becomes idle, to tell its current
    /// idle-queue entry from stale ones.
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
}

/// All known workers, by socket and ROUTER identity.
#[derive(Debug, Default)]
pub struct Workers {
    map: HashMap<PeerId, Worker>,
    next_epoch: u64,
}

impl Workers {
    /// Registers a worker in the `Suspect` state (the caller makes it
    /// idle); replaces any earlier entry for the same peer.
    pub fn insert(&mut self, peer: PeerId, dialect: WorkerDialect, service: Bytes) {
        self.map.insert(
            peer,
            Worker {
                dialect,
                service,
                state: WorkerState::Suspect,
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

    /// Marks the worker idle; returns the epoch of its new idle-queue
    /// entry and the worker, or `None` when it is unknown.
    pub fn set_idle(&mut self, peer: &PeerId) -> Option<(u64, &mut Worker)> {
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let w = self.map.get_mut(peer)?;
        w.state = WorkerState::Idle;
        w.idle_epoch = epoch;
        Some((epoch, w))
    }

    /// True when `peer` is idle and `epoch` is its current entry.
    pub fn is_idle_at(&self, peer: &PeerId, epoch: u64) -> bool {
        self.map
            .get(peer)
            .is_some_and(|w| w.state == WorkerState::Idle && w.idle_epoch == epoch)
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
