//! The worker flow: registration, readiness, heartbeats both ways,
//! expiry, and DISCONNECT in both directions.

use std::time::Instant;

use bytes::Bytes;
use corsair_proto::{WorkerDialect, WorkerMessage};
use tracing::{info, warn};

use super::Broker;
use crate::mmi;
use crate::peer::PeerId;
use crate::worker::WorkerState;

impl Broker {
    pub(super) fn handle_worker(
        &mut self,
        now: Instant,
        peer: PeerId,
        dialect: WorkerDialect,
        message: WorkerMessage,
    ) {
        let mut known = false;
        if let Some(w) = self.workers.get_mut(&peer) {
            if w.dialect == dialect {
                known = true;
                // Any command but DISCONNECT is a sign of life.
                if w.heartbeats() && message != WorkerMessage::Disconnect {
                    w.expires_at = Some(now + self.config.heartbeat_for(dialect).expiry());
                }
            } else {
                info!(worker = ?peer, ?dialect, "worker changed dialect: registered anew");
                self.lose_worker(now, &peer);
            }
        }
        match message {
            WorkerMessage::Ready { service } => self.worker_ready(now, peer, dialect, service),
            WorkerMessage::Heartbeat => match self.workers.get(&peer).map(|w| w.state) {
                Some(WorkerState::Suspect) => self.make_idle(now, peer, dialect, None),
                Some(_) => {}
                None if dialect.is_mdp() => {
                    self.refuse(now, &peer, dialect, "HEARTBEAT before READY")
                }
                // The zguide's ppqueue takes any sign of life as READY.
                None => self.make_idle(now, peer, dialect, None),
            },
            WorkerMessage::Partial(part) => {
                self.handle_partial(&peer, part);
                if !known {
                    self.refuse(now, &peer, dialect, "PARTIAL before READY");
                }
            }
            WorkerMessage::Reply(reply) => {
                let id = self.handle_reply(Some(&peer), reply);
                if !known && dialect.is_mdp() {
                    // Its reply was taken; now it must register again.
                    self.refuse(now, &peer, dialect, "reply before READY");
                    return;
                }
                // A reply means the worker is ready again, unless it is
                // still busy with another request.
                let busy_elsewhere = matches!(
                    self.workers.get(&peer).map(|w| w.state),
                    Some(WorkerState::Busy { request, .. }) if Some(request) != id
                );
                if !busy_elsewhere {
                    self.make_idle(now, peer, dialect, None);
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
    ) {
        let state = self.workers.get(&peer).map(|w| w.state);
        match service {
            // A fetch worker asks again when it is done with its task
            // (answered on the PULL socket, which may still be on its way,
            // or dropped): its attempt stays open until the answer or the
            // attempt timeout.
            None if dialect == WorkerDialect::Fetch => self.make_idle(now, peer, dialect, None),
            // Pirate: READY from a worker we think busy means it restarted.
            None => {
                if matches!(state, Some(WorkerState::Busy { .. })) {
                    info!(worker = ?peer, "worker sent READY while busy: it restarted");
                    self.stats.workers_lost += 1;
                    self.lose_worker(now, &peer);
                }
                self.make_idle(now, peer, dialect, None);
            }
            Some(_) if state.is_some() => self.refuse(now, &peer, dialect, "second READY"),
            Some(service) if mmi::is_mmi(&service) => {
                self.refuse(now, &peer, dialect, "READY for a reserved mmi.* service")
            }
            Some(service) => self.make_idle(now, peer, dialect, Some(service)),
        }
    }

    /// Registers the worker if it is new (for `service`, or the default
    /// service), marks it idle and gives it work if any is waiting.
    pub(super) fn make_idle(
        &mut self,
        now: Instant,
        peer: PeerId,
        dialect: WorkerDialect,
        service: Option<Bytes>,
    ) {
        if self.workers.get(&peer).is_none() {
            let service = service.unwrap_or_else(|| self.config.default_service.clone());
            info!(worker = ?peer, ?dialect, service = ?service, "worker registered");
            self.workers.insert(peer.clone(), dialect, service.clone());
            self.service(&service).workers += 1;
        }
        let expiry = self.config.heartbeat_for(dialect).expiry();
        let (epoch, w) = self.workers.set_idle(&peer).expect("registered above");
        if w.heartbeats() {
            w.expires_at = Some(now + expiry);
        }
        let service = w.service.clone();
        let s = self.service(&service);
        s.push_idle(peer, epoch);
        if s.has_pending() {
            self.dispatch(now, &service);
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

    /// Forgets a worker; if it was busy its attempt fails.
    pub(super) fn lose_worker(&mut self, now: Instant, peer: &PeerId) {
        if let Some(WorkerState::Busy { request, attempt }) = self.forget_worker(peer) {
            self.fail_attempt(now, request, attempt, peer);
        }
    }

    /// Removes a worker from the registry and its service's count;
    /// returns the state it was in.
    pub(super) fn forget_worker(&mut self, peer: &PeerId) -> Option<WorkerState> {
        let w = self.workers.remove(peer)?;
        if let Some(s) = self.services.get_mut(&w.service) {
            s.workers = s.workers.saturating_sub(1);
        }
        Some(w.state)
    }

    /// One heartbeat round for Majordomo (`mdp`) or Pirate workers:
    /// expire the silent, send HEARTBEAT to the rest (Pirate: all of
    /// them; Majordomo: those not busy, as 7/MDP's broker does).
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
            if mdp && matches!(w.state, WorkerState::Busy { .. }) {
                continue;
            }
            if let Some(frames) = w.dialect.heartbeat() {
                self.stats.heartbeats_sent += 1;
                self.send(&peer, frames);
            }
        }
    }
}
