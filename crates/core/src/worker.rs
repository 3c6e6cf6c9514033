//! The worker registry: who is connected, what each is doing, and when
//! each is due to be declared dead.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use corsair_proto::pirate::PirateDialect;

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
    pub dialect: PirateDialect,
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
        self.dialect == PirateDialect::Paranoid
    }
}

/// All known workers, by ROUTER identity.
#[derive(Debug, Default)]
pub struct Workers {
    map: HashMap<Bytes, Worker>,
    next_epoch: u64,
}

impl Workers {
    /// Registers a worker in the `Suspect` state (the caller makes it
    /// idle); replaces any earlier entry for the same identity.
    pub fn insert(&mut self, identity: Bytes, dialect: PirateDialect, service: Bytes) {
        self.map.insert(
            identity,
            Worker {
                dialect,
                service,
                state: WorkerState::Suspect,
                idle_epoch: 0,
                expires_at: None,
            },
        );
    }

    /// The worker with this identity.
    pub fn get(&self, identity: &[u8]) -> Option<&Worker> {
        self.map.get(identity)
    }

    /// The worker with this identity, to change.
    pub fn get_mut(&mut self, identity: &[u8]) -> Option<&mut Worker> {
        self.map.get_mut(identity)
    }

    /// Forgets a worker.
    pub fn remove(&mut self, identity: &[u8]) -> Option<Worker> {
        self.map.remove(identity)
    }

    /// Marks the worker idle and returns the epoch of its new idle-queue
    /// entry, or `None` when it is unknown.
    pub fn set_idle(&mut self, identity: &[u8]) -> Option<u64> {
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let w = self.map.get_mut(identity)?;
        w.state = WorkerState::Idle;
        w.idle_epoch = epoch;
        Some(epoch)
    }

    /// True when `identity` is idle and `epoch` is its current entry.
    pub fn is_idle_at(&self, identity: &[u8], epoch: u64) -> bool {
        self.map
            .get(identity)
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

    /// Identities of heartbeating workers: those due to expire by `now`
    /// and the rest.
    pub fn partition_expired(&self, now: Instant) -> (Vec<Bytes>, Vec<Bytes>) {
        let mut expired = Vec::new();
        let mut alive = Vec::new();
        for (id, w) in &self.map {
            if let Some(at) = w.expires_at {
                if at <= now {
                    expired.push(id.clone());
                } else {
                    alive.push(id.clone());
                }
            }
        }
        (expired, alive)
    }
}
