//! The broker: a pure state machine with time passed in.
//!
//! Feed it what the sockets received ([`Broker::handle_frontend`],
//! [`Broker::handle_backend`]), call [`Broker::handle_timeout`] when
//! [`Broker::poll_timeout`] says, and send whatever
//! [`Broker::poll_output`] returns. It never touches a socket or a clock.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use corsair_proto::pirate::{FromWorker, PirateDialect, ToWorker};
use corsair_proto::{Enveloped, Frames};
use tracing::{debug, info, warn};

use crate::config::BrokerConfig;
use crate::heartbeat::HeartbeatSchedule;
use crate::request::{RequestId, RequestState, Requests, Route};
use crate::service::Service;
use crate::stats::Stats;
use crate::timers::{Timer, Timers};
use crate::worker::{WorkerState, Workers};

/// Which broker socket a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The clients' ROUTER socket.
    Frontend,
    /// The workers' ROUTER socket.
    Backend,
}

/// A message for the adapter to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The socket to send it on.
    pub side: Side,
    /// The frames, the first being the ROUTER identity of the peer.
    pub frames: Frames,
}

/// The reliable broker's state.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    services: HashMap<Bytes, Service>,
    workers: Workers,
    requests: Requests,
    timers: Timers,
    heartbeat: HeartbeatSchedule,
    outputs: VecDeque<Output>,
    stats: Stats,
}

impl Broker {
    /// A broker with nothing connected, its clock starting at `now`.
    pub fn new(config: BrokerConfig, now: Instant) -> Self {
        Broker {
            heartbeat: HeartbeatSchedule::new(now, config.heartbeat_interval),
            config,
            services: HashMap::new(),
            workers: Workers::default(),
            requests: Requests::default(),
            timers: Timers::default(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The settings it runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Counters since start.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Requests outstanding (queued or in flight).
    pub fn outstanding(&self) -> usize {
        self.requests.len()
    }

    /// Requests waiting for a worker.
    pub fn queued(&self) -> usize {
        self.requests.queued()
    }

    /// Workers known to the broker.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// The next message to send, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Broker::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hb = self.heartbeat.next();
        Some(self.timers.next().map_or(hb, |t| t.min(hb)))
    }

    /// A message from the clients' socket: `identity` then `frames`.
    pub fn handle_frontend(&mut self, now: Instant, identity: Bytes, frames: Frames) {
        let msg = match Enveloped::decode(frames) {
            Ok(msg) => msg,
            Err(err) => {
                self.stats.malformed_frontend += 1;
                warn!(client = ?identity, %err, "malformed client message dropped");
                return;
            }
        };
        let route = Route {
            identity,
            envelope: msg.envelope,
        };
        let service = self.config.default_service.clone();
        self.accept(now, route, service, msg.body);
    }

    fn accept(&mut self, now: Instant, route: Route, service: Bytes, body: Frames) {
        self.stats.accepted += 1;
        if self.requests.queued() >= self.config.queue_limit {
            self.stats.rejected_queue_full += 1;
            self.stats.failed += 1;
            warn!(client = ?route.identity, limit = self.config.queue_limit, "queue full: failure reply");
            self.send_failure(route);
            return;
        }
        let (id, epoch) = self.requests.insert(route, service.clone(), body);
        debug!(request = id.0, "request accepted");
        self.service(&service).push_request(id, epoch);
        self.schedule_wait(now, id, epoch);
        self.dispatch(now, &service);
    }

    fn service(&mut self, name: &Bytes) -> &mut Service {
        self.services.entry(name.clone()).or_default()
    }

    fn schedule_wait(&mut self, now: Instant, request: RequestId, epoch: u64) {
        self.timers
            .schedule(now + self.config.wait_limit, Timer::Wait { request, epoch });
    }

    /// Gives queued requests of `service` to its idle workers.
    fn dispatch(&mut self, now: Instant, name: &Bytes) {
        let Some(service) = self.services.get_mut(name) else {
            return;
        };
        loop {
            let workers = &self.workers;
            let Some(worker) = service.pop_idle(|w, e| workers.is_idle_at(w, e)) else {
                break;
            };
            let requests = &self.requests;
            let Some((id, _)) = service.pop_request(|id, epoch| {
                matches!(requests.get(id), Some(r) if r.state == RequestState::Queued { epoch })
            }) else {
                let epoch = self.workers.get(&worker).map_or(0, |w| w.idle_epoch);
                service.unpop_idle(worker, epoch);
                break;
            };
            let attempt = self
                .requests
                .start_attempt(id, worker.clone())
                .expect("popped request is queued");
            let w = self
                .workers
                .get_mut(&worker)
                .expect("popped worker is known");
            w.state = WorkerState::Busy {
                request: id,
                attempt,
            };
            let dialect = w.dialect;
            let body = self.requests.get(id).expect("just started").body.clone();
            self.stats.dispatched += 1;
            debug!(request = id.0, worker = ?worker, attempt, "dispatched");
            self.timers.schedule(
                now + self.config.attempt_timeout,
                Timer::Attempt {
                    request: id,
                    attempt,
                    worker: worker.clone(),
                },
            );
            let msg = ToWorker::Request(Enveloped {
                envelope: vec![id.to_frame()],
                body,
            });
            let mut frames = vec![worker];
            frames.extend(msg.encode(dialect));
            self.outputs.push_back(Output {
                side: Side::Backend,
                frames,
            });
        }
    }

    /// A message from the workers' socket: `identity` then `frames`.
    pub fn handle_backend(&mut self, now: Instant, identity: Bytes, frames: Frames) {
        let (dialect, msg) = match FromWorker::decode(frames) {
            Ok(decoded) => decoded,
            Err(err) => {
                self.stats.malformed_backend += 1;
                warn!(worker = ?identity, %err, "malformed worker message dropped");
                return;
            }
        };
        let expiry = self.config.expiry();
        if let Some(w) = self.workers.get_mut(&identity) {
            if w.heartbeats() {
                w.expires_at = Some(now + expiry);
            }
        }
        match msg {
            FromWorker::Ready => {
                if let Some(w) = self.workers.get(&identity) {
                    if matches!(w.state, WorkerState::Busy { .. }) {
                        info!(worker = ?identity, "worker sent READY while busy: it restarted");
                        self.lose_worker(now, &identity);
                    }
                }
                self.make_idle(now, identity, dialect);
            }
            FromWorker::Heartbeat => {
                let state = self.workers.get(&identity).map(|w| w.state);
                if matches!(state, None | Some(WorkerState::Suspect)) {
                    self.make_idle(now, identity, dialect);
                }
            }
            FromWorker::Reply(reply) => self.handle_reply(now, identity, dialect, reply),
        }
    }

    fn handle_reply(
        &mut self,
        now: Instant,
        worker: Bytes,
        dialect: PirateDialect,
        reply: Enveloped,
    ) {
        let id = RequestId::from_envelope(&reply.envelope);
        match id.and_then(|id| self.requests.get(id).map(|r| (id, r))) {
            Some((id, req)) => {
                let current =
                    matches!(&req.state, RequestState::InFlight { worker: w, .. } if *w == worker);
                if !current {
                    self.stats.late_replies += 1;
                    info!(request = id.0, worker = ?worker, "late reply from an earlier attempt accepted");
                }
                let req = self.requests.remove(id).expect("looked up above");
                self.stats.answered += 1;
                debug!(request = id.0, worker = ?worker, "answered");
                self.send_client(req.route, reply.body);
            }
            None if id.is_some() => {
                self.stats.duplicate_replies += 1;
                info!(worker = ?worker, "reply for a request that already ended dropped");
            }
            None => {
                self.stats.unknown_replies += 1;
                warn!(worker = ?worker, "reply with an envelope naming no request dropped");
            }
        }
        // A reply means the worker is ready again, unless it is still busy
        // with another request.
        let busy_elsewhere = matches!(
            self.workers.get(&worker).map(|w| w.state),
            Some(WorkerState::Busy { request, .. }) if Some(request) != id
        );
        if !busy_elsewhere {
            self.make_idle(now, worker, dialect);
        }
    }

    fn make_idle(&mut self, now: Instant, identity: Bytes, dialect: PirateDialect) {
        if self.workers.get(&identity).is_none() {
            let service = self.config.default_service.clone();
            info!(worker = ?identity, ?dialect, "worker registered");
            self.workers
                .insert(identity.clone(), dialect, service.clone());
            self.service(&service).workers += 1;
        }
        let expiry = self.config.expiry();
        let epoch = self.workers.set_idle(&identity).expect("registered above");
        let w = self.workers.get_mut(&identity).expect("registered above");
        if w.heartbeats() {
            w.expires_at = Some(now + expiry);
        }
        let service = w.service.clone();
        self.service(&service).push_idle(identity, epoch);
        self.dispatch(now, &service);
    }

    /// Forgets a worker; if it was busy its attempt fails.
    fn lose_worker(&mut self, now: Instant, identity: &[u8]) {
        let Some(w) = self.workers.remove(identity) else {
            return;
        };
        if let Some(s) = self.services.get_mut(&w.service) {
            s.workers = s.workers.saturating_sub(1);
        }
        if let WorkerState::Busy { request, attempt } = w.state {
            self.fail_attempt(now, request, attempt, identity);
        }
    }

    /// Ends attempt `attempt` of `id` at `worker` as failed, if it is the
    /// request's current attempt: requeue at the head, or fail the request.
    fn fail_attempt(&mut self, now: Instant, id: RequestId, attempt: u32, worker: &[u8]) {
        let Some(req) = self.requests.get(id) else {
            return;
        };
        let current = matches!(&req.state, RequestState::InFlight { worker: w, attempt: a } if w.as_ref() == worker && *a == attempt);
        if !current {
            return;
        }
        if req.attempts < self.config.max_attempts {
            let service = req.service.clone();
            let epoch = self.requests.requeue(id).expect("in flight");
            self.stats.retried += 1;
            info!(
                request = id.0,
                attempt, "attempt failed: request requeued at the head"
            );
            self.service(&service).push_request_front(id, epoch);
            self.schedule_wait(now, id, epoch);
            self.dispatch(now, &service);
        } else {
            let req = self.requests.remove(id).expect("looked up above");
            self.stats.attempts_exhausted += 1;
            self.stats.failed += 1;
            warn!(
                request = id.0,
                attempts = req.attempts,
                "all attempts failed: failure reply"
            );
            self.send_failure(req.route);
        }
    }

    /// Deadlines due by `now`: attempt timeouts, wait limits, heartbeats
    /// and worker expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Attempt {
                    request,
                    attempt,
                    worker,
                } => self.attempt_timed_out(now, request, attempt, worker),
                Timer::Wait { request, epoch } => self.wait_expired(request, epoch),
            }
        }
        if self.heartbeat.tick(now) {
            self.heartbeat_tick(now);
        }
    }

    fn attempt_timed_out(&mut self, now: Instant, request: RequestId, attempt: u32, worker: Bytes) {
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        if w.state != (WorkerState::Busy { request, attempt }) {
            return;
        }
        self.stats.attempt_timeouts += 1;
        warn!(request = request.0, worker = ?worker, attempt, "attempt timed out");
        if w.heartbeats() {
            // No new work until its next sign of life.
            w.state = WorkerState::Suspect;
        } else {
            // A REQ worker that never answered cannot speak again on this
            // connection; a late reply re-registers it.
            let service = w.service.clone();
            self.workers.remove(&worker);
            if let Some(s) = self.services.get_mut(&service) {
                s.workers = s.workers.saturating_sub(1);
            }
        }
        self.fail_attempt(now, request, attempt, &worker);
    }

    fn wait_expired(&mut self, id: RequestId, epoch: u64) {
        let waiting =
            matches!(self.requests.get(id), Some(r) if r.state == RequestState::Queued { epoch });
        if !waiting {
            return;
        }
        let req = self.requests.remove(id).expect("checked above");
        self.stats.wait_expired += 1;
        self.stats.failed += 1;
        warn!(request = id.0, service = ?req.service, "no worker took the request in time: failure reply");
        self.send_failure(req.route);
    }

    fn heartbeat_tick(&mut self, now: Instant) {
        let (expired, alive) = self.workers.partition_expired(now);
        for identity in expired {
            self.stats.workers_expired += 1;
            warn!(worker = ?identity, "worker expired: no heartbeat");
            self.lose_worker(now, &identity);
        }
        for identity in alive {
            let Some(w) = self.workers.get(&identity) else {
                continue;
            };
            let mut frames = vec![identity];
            frames.extend(ToWorker::Heartbeat.encode(w.dialect));
            self.stats.heartbeats_sent += 1;
            self.outputs.push_back(Output {
                side: Side::Backend,
                frames,
            });
        }
    }

    /// The adapter could not deliver `identity`'s message on `side`
    /// (the peer is gone): a worker is forgotten and its attempt fails; a
    /// client's reply is counted as undeliverable.
    pub fn handle_unroutable(&mut self, now: Instant, side: Side, identity: &[u8]) {
        match side {
            Side::Frontend => {
                self.stats.client_gone += 1;
                info!(client = ?identity, "client gone: reply dropped");
            }
            Side::Backend => {
                if self.workers.get(identity).is_some() {
                    self.stats.workers_lost += 1;
                    warn!(worker = ?identity, "worker unreachable: forgotten");
                    self.lose_worker(now, identity);
                }
            }
        }
    }

    fn send_client(&mut self, route: Route, body: Frames) {
        let mut frames = Vec::with_capacity(2 + route.envelope.len() + body.len());
        frames.push(route.identity);
        frames.extend(
            Enveloped {
                envelope: route.envelope,
                body,
            }
            .encode(),
        );
        self.outputs.push_back(Output {
            side: Side::Frontend,
            frames,
        });
    }

    fn send_failure(&mut self, route: Route) {
        self.send_client(route, Enveloped::failure(Vec::new()).body);
    }
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
