//! The worker flow: registration, readiness, heartbeats both ways,
//! expiry, and DISCONNECT in both directions.

use std::time::Instant;

use bytes::Bytes;
use corsair_proto::{WorkerDialect, WorkerMessage};
use tracing::{info, warn};

use super::Broker;
use crate::mmi;
use crate::peer::PeerId;
use crate::request::RequestId;
use crate::worker::WorkerKey;

impl Broker {
    pub(super) fn handle_worker(
        &mut self,
        now: Instant,
        peer: PeerId,
        dialect: WorkerDialect,
        message: WorkerMessage,
    ) {
        // The one index lookup of this message: every step below finds
        // the worker by its slot.
        let mut key = self.workers.key(&peer);
        if let Some(k) = key {
            let w = self.workers.at_mut(k).expect("indexed slot");
            if w.dialect == dialect {
                // Any command but DISCONNECT is a sign of life.
                if w.heartbeats() && message != WorkerMessage::Disconnect {
                    w.expires_at = Some(now + self.config.heartbeat_for(dialect).expiry());
                }
            } else {
                info!(worker = ?peer, ?dialect, "worker changed dialect: registered anew");
                self.lose_worker(now, &peer);
                key = None;
            }
        }
        let known = key.is_some();
        match message {
            WorkerMessage::Ready { service, credit } => {
                self.worker_ready(now, peer, dialect, service, credit)
            }
            WorkerMessage::Heartbeat => match key {
                Some(k) => {
                    if self.workers.at(k).is_some_and(|w| w.suspect) {
                        self.make_idle_at(now, k);
                    }
                }
                None if dialect.is_mdp() => {
                    self.refuse(now, &peer, dialect, "HEARTBEAT before READY")
                }
                // The zguide's ppqueue takes any sign of life as READY.
                None => self.make_idle(now, peer, dialect),
            },
            WorkerMessage::Partial(part) => {
                self.handle_partial(&peer, part);
                if !known {
                    self.refuse(now, &peer, dialect, "PARTIAL before READY");
                }
            }
            WorkerMessage::Reply(reply) => {
                self.handle_reply(Some(&peer), reply);
                if !known && dialect.is_mdp() {
                    // Its reply was taken; now it must register again.
                    self.refuse(now, &peer, dialect, "reply before READY");
                    return;
                }
                // A reply frees one of its credits (and is a sign of life).
                let still = key.filter(|&k| self.workers.at(k).is_some_and(|w| w.peer == peer));
                match still {
                    // The reply ended the request, which released it.
                    Some(k) => self.make_idle_at(now, k),
                    None => self.make_idle(now, peer, dialect),
                }
            }
            WorkerMessage::Disconnect => {
                if known {
                    self.stats.workers_disconnected += 1;
                    info!(worker = ?peer, "worker disconnected");
                    self.lose_worker(now, &peer);
                }
            }
            WorkerMessage::Unexpected { command } => self.refuse(now, &peer, dialect, command),
        }
    }

    fn worker_ready(
        &mut self,
        now: Instant,
        peer: PeerId,
        dialect: WorkerDialect,
        service: Option<Bytes>,
        credit: u32,
    ) {
        let busy = self.workers.get(&peer).map(|w| w.busy());
        match service {
            // A fetch worker asks again when it is done with its task
            // (answered on the PULL socket, which may still be on its way,
            // or dropped): its attempt stays open until the answer or the
            // attempt timeout.
            None if dialect == WorkerDialect::Fetch => {
                if let Some(w) = self.workers.get_mut(&peer) {
                    self.requests.release_all(&mut w.held);
                }
                self.make_idle(now, peer, dialect)
            }
            // Pirate: READY from a worker we think busy means it restarted.
            None => {
                if busy == Some(true) {
                    info!(worker = ?peer, "worker sent READY while busy: it restarted");
                    self.stats.workers_lost += 1;
                    self.lose_worker(now, &peer);
                }
                let key = self.register(&peer, dialect, None, credit);
                self.make_idle_at(now, key);
            }
            Some(_) if busy.is_some() => self.refuse(now, &peer, dialect, "second READY"),
            Some(service) if mmi::is_mmi(&service) => {
                self.refuse(now, &peer, dialect, "READY for a reserved mmi.* service")
            }
            Some(service) => {
                let key = self.register(&peer, dialect, Some(service), credit);
                self.make_idle_at(now, key)
            }
        }
    }

    /// Registers a worker not known yet, for `service` or the default one;
    /// returns its slot.
    fn register(
        &mut self,
        peer: &PeerId,
        dialect: WorkerDialect,
        service: Option<Bytes>,
        credit: u32,
    ) -> WorkerKey {
        if let Some(key) = self.workers.key(peer) {
            return key;
        }
        let service = match service {
            Some(name) => self.services.key(name),
            None => self.default_service,
        };
        info!(worker = ?peer, ?dialect, service = ?self.services.name(service), credit, "worker registered");
        let key = self.workers.insert(peer.clone(), dialect, service, credit);
        self.services.worker_joined(service);
        key
    }

    /// Registers the worker if it is new (for the default service), marks
    /// it idle and gives it work if any is waiting.
    pub(super) fn make_idle(&mut self, now: Instant, peer: PeerId, dialect: WorkerDialect) {
        let key = self.register(&peer, dialect, None, 1);
        self.make_idle_at(now, key);
    }

    /// Marks the known worker in slot `key` idle (a sign of life) and
    /// gives it work if any is waiting.
    pub(super) fn make_idle_at(&mut self, now: Instant, key: WorkerKey) {
        let (entry, w) = self.workers.set_idle(key).expect("a known worker");
        if w.heartbeats() {
            w.expires_at = Some(now + self.config.heartbeat_for(w.dialect).expiry());
        }
        let (service, available) = (w.service, w.available());
        let s = self.services.at_mut(service);
        if let Some(epoch) = entry {
            s.push_idle(key, epoch);
        }
        if available && s.has_pending() {
            self.dispatch(now, service);
        }
    }

    /// Sends DISCONNECT (where the dialect has one) to a worker that broke
    /// its protocol, and forgets it.
    fn refuse(&mut self, now: Instant, peer: &PeerId, dialect: WorkerDialect, why: &str) {
        self.stats.workers_refused += 1;
        warn!(worker = ?peer, why, "protocol error: worker disconnected");
        if let Some(frames) = dialect.disconnect() {
            self.send(peer, frames);
        }
        self.lose_worker(now, peer);
    }

    /// Forgets a worker; every attempt it held fails. The newest request
    /// goes back first, so that the oldest ends up at the head.
    pub(super) fn lose_worker(&mut self, now: Instant, peer: &PeerId) {
        let mut held = self.forget_worker(peer);
        held.sort_unstable_by_key(|(request, _)| std::cmp::Reverse(*request));
        for (request, attempt) in held {
            self.fail_attempt(now, request, attempt, peer);
        }
    }

    /// Removes a worker from the registry and its service's count;
    /// returns the attempts it held, released.
    pub(super) fn forget_worker(&mut self, peer: &PeerId) -> Vec<(RequestId, u32)> {
        let Some((w, held)) = self.workers.remove(peer, &mut self.requests) else {
            return Vec::new();
        };
        self.services.worker_left(w.service);
        held
    }

    /// Releases the hold of the worker that holds the current attempt of
    /// `id`, if one does (see [`crate::request::Request::holder`]):
    /// frees its credit. Returns that worker's slot.
    pub(super) fn release_hold(&mut self, id: RequestId) -> Option<WorkerKey> {
        let key = self.requests.get(id)?.holder()?;
        let w = self
            .workers
            .at_mut(key)
            .expect("a holder is a known worker");
        self.requests.release(id, &mut w.held)
    }

    /// One heartbeat round for Majordomo (`mdp`) or Pirate workers:
    /// expire the silent, send HEARTBEAT to the rest, except those given
    /// a request within the last half interval (any message tells a
    /// worker the broker is alive: 6/PPP's and 7/MDP's workers count
    /// them all, so a worker so skipped is never silent for more than an
    /// interval and a half) and, for Majordomo, those busy, as 7/MDP's
    /// broker does.
    pub(super) fn heartbeat_tick(&mut self, now: Instant, mdp: bool) {
        let (expired, alive) = self.workers.partition_expired(now, |d| d.is_mdp() == mdp);
        for peer in expired {
            self.stats.workers_expired += 1;
            warn!(worker = ?peer, "worker expired: no heartbeat");
            if let Some(frames) = self.workers.get(&peer).and_then(|w| w.dialect.disconnect()) {
                // Tell it, in case it is alive but cut off: it will
                // reconnect and register again.
                self.send(&peer, frames);
            }
            self.lose_worker(now, &peer);
        }
        for peer in alive {
            let Some(w) = self.workers.get(&peer) else {
                continue;
            };
            let half = self.config.heartbeat_for(w.dialect).interval / 2;
            let told = w
                .last_sent
                .is_some_and(|at| now.saturating_duration_since(at) < half);
            if told || (mdp && w.busy()) {
                continue;
            }
            if let Some(frames) = w.dialect.heartbeat() {
                self.stats.heartbeats_sent += 1;
                self.send(&peer, frames);
            }
        }
    }
}
