//! The broker: a pure state machine with time passed in.
//!
//! Feed it what the sockets received ([`Broker::handle_message`]), call
//! [`Broker::handle_timeout`] when [`Broker::poll_timeout`] says, and
//! send whatever [`Broker::poll_output`] returns. It never touches a
//! socket or a clock.
//!
//! The request flow (accepting, dispatching, replies, retries, MMI) is in
//! `broker/requests.rs`; the worker flow (registration, heartbeats,
//! expiry, DISCONNECT) in `broker/workers.rs`.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use corsair_proto::arena::Arena;
use corsair_proto::{lists, Bare, Frames, Inbound};
use tracing::{debug, info, warn};

use crate::config::BrokerConfig;
use crate::hashing::HashMap;
use crate::heartbeat::HeartbeatSchedule;
use crate::peer::{Output, PeerId, Side};
use crate::request::{RequestId, Requests, Route};
use crate::service::{ServiceKey, Services};
use crate::stats::Stats;
use crate::timers::{Timer, Timers};
use crate::worker::Workers;

mod requests;
mod shutdown;
mod workers;

pub use shutdown::SHUTDOWN_REASON;

/// The reliable broker's state.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    services: Services,
    /// The service of requests and workers that name none.
    default_service: ServiceKey,
    workers: Workers,
    requests: Requests,
    timers: Timers,
    heartbeat: HeartbeatSchedule,
    mdp_heartbeat: HeartbeatSchedule,
    outputs: VecDeque<Output>,
    stats: Stats,
    /// Requests outstanding per client, kept only with a client limit.
    per_client: HashMap<PeerId, u32>,
    /// Shutting down: no new requests, no retries.
    draining: bool,
    /// Services holding a worker for the rest of the turn.
    held: Vec<ServiceKey>,
    /// Where request id frames are written, a chunk for many.
    ids: Arena,
}

impl Broker {
    /// A broker with nothing connected, its clock starting at `now`.
    pub fn new(config: BrokerConfig, now: Instant) -> Self {
        let mut services = Services::default();
        let default_service = services.key(config.default_service.clone());
        Broker {
            heartbeat: HeartbeatSchedule::new(now, config.heartbeat.interval),
            mdp_heartbeat: HeartbeatSchedule::new(now, config.mdp_heartbeat.interval),
            config,
            services,
            default_service,
            workers: Workers::default(),
            requests: Requests::default(),
            timers: Timers::new(now),
            outputs: VecDeque::new(),
            stats: Stats::default(),
            per_client: HashMap::default(),
            draining: false,
            held: Vec::new(),
            ids: Arena::new(),
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

    /// Requests in flight (outstanding and not queued).
    pub fn in_flight(&self) -> usize {
        self.requests.len() - self.requests.queued()
    }

    /// Attempts the workers hold: never more than [`Broker::in_flight`],
    /// and equal to it but for fetch workers that asked again while
    /// their answer may still be on its way. A walk over every worker's
    /// list and every request, for checks, not for the hot path.
    ///
    /// # Panics
    /// If the records disagree: a worker's list names a request held by
    /// another, its count is not its length, or a request names a holder
    /// whose list does not have it.
    pub fn attempts_held(&self) -> usize {
        let mut listed = 0;
        for (key, w) in self.workers.keyed() {
            let mut n = 0;
            for id in self.requests.listed(&w.held) {
                let holder = self.requests.get(id).and_then(|r| r.holder());
                assert_eq!(holder, Some(key), "{id:?} is listed by its holder only");
                n += 1;
            }
            assert_eq!(n, w.held.len(), "a held list's count is its length");
            listed += n as usize;
        }
        let holders = self
            .requests
            .ids()
            .filter(|&id| self.requests.get(id).is_some_and(|r| r.holder().is_some()))
            .count();
        assert_eq!(
            holders, listed,
            "every held request is in its holder's list"
        );
        assert_eq!(listed, self.workers.attempts_held());
        listed
    }

    /// Workers known to the broker.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// True when `service` has at least one registered worker.
    pub fn has_workers(&self, service: &[u8]) -> bool {
        self.services.find(service).is_some_and(|s| s.workers() > 0)
    }

    /// The next message to send, if any. Finding none ends the turn:
    /// a worker held for requests that arrived together (see
    /// [`BrokerConfig::batch`]) goes back to its idle queue, and services
    /// no worker serves and no request names are forgotten.
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.outputs.pop_front();
        if out.is_none() && (!self.held.is_empty() || self.services.may_forget()) {
            self.end_turn();
        }
        out
    }

    /// Everything produced so far has been taken: workers held for this
    /// turn's requests go back to their idle queues; unused services are
    /// forgotten (nothing waiting to be sent names them any more).
    fn end_turn(&mut self) {
        for key in self.held.drain(..) {
            self.services.at_mut(key).release_held();
        }
        let forgotten = self.services.forget_unused(self.default_service);
        if forgotten > 0 {
            self.stats.services_forgotten += forgotten as u64;
            debug!(
                forgotten,
                known = self.services.len(),
                "unused services forgotten"
            );
        }
    }

    /// Services known: those with workers or requests, and the default
    /// one.
    pub fn services_known(&self) -> usize {
        self.services.len()
    }

    /// When [`Broker::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hb = self.heartbeat.next().min(self.mdp_heartbeat.next());
        Some(self.timers.next().map_or(hb, |t| t.min(hb)))
    }

    /// A message that arrived on `side` from `identity`. Majordomo
    /// messages are recognised by their header on either socket; bare
    /// frames are a plain client request on the frontend and a Pirate
    /// worker message on the backend.
    pub fn handle_message(&mut self, now: Instant, side: Side, identity: Bytes, frames: Frames) {
        let bare = match side {
            Side::Frontend => Bare::Client,
            Side::Backend => Bare::Worker,
            Side::Fetch => Bare::Fetch,
        };
        match Inbound::decode(frames, bare) {
            Ok(Inbound::Request {
                path,
                service,
                body,
            }) => {
                let route = Route {
                    peer: PeerId::new(side, identity),
                    path,
                };
                self.handle_request(now, route, service, body);
            }
            Ok(Inbound::Worker { dialect, message }) => {
                self.handle_worker(now, PeerId::new(side, identity), dialect, message);
            }
            Err(err) => {
                match side {
                    Side::Frontend => self.stats.malformed_frontend += 1,
                    Side::Backend | Side::Fetch => self.stats.malformed_backend += 1,
                }
                warn!(?side, peer = ?identity, %err, "malformed message dropped");
            }
        }
    }

    /// An answer from the answers socket (PULL): `task-id answer…`. It
    /// carries no sender, so any answer to an outstanding request is
    /// taken (the first wins); the fetch worker that had the request is
    /// given no new work until it asks again.
    pub fn handle_answer(&mut self, now: Instant, frames: Frames) {
        match corsair_proto::dialect::decode_answer(frames) {
            Ok(answer) => {
                let _ = now; // answers need no clock today; kept for a uniform API
                self.handle_fetch_answer(answer)
            }
            Err(err) => {
                self.stats.malformed_backend += 1;
                warn!(%err, "malformed answer dropped");
            }
        }
    }

    /// A message from the clients' socket; see [`Broker::handle_message`].
    pub fn handle_frontend(&mut self, now: Instant, identity: Bytes, frames: Frames) {
        self.handle_message(now, Side::Frontend, identity, frames);
    }

    /// A message from the workers' socket; see [`Broker::handle_message`].
    pub fn handle_backend(&mut self, now: Instant, identity: Bytes, frames: Frames) {
        self.handle_message(now, Side::Backend, identity, frames);
    }

    /// Deadlines due by `now`: attempt timeouts, wait limits, heartbeats
    /// and worker expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Attempt { request, attempt } => {
                    self.attempt_timed_out(now, request, attempt)
                }
                Timer::Wait { request, epoch } => self.wait_expired(request, epoch),
            }
        }
        if self.heartbeat.tick(now) {
            self.heartbeat_tick(now, false);
        }
        if self.mdp_heartbeat.tick(now) {
            self.heartbeat_tick(now, true);
        }
    }

    /// The adapter could not deliver a message to `identity` on `side`
    /// (the peer is gone): a worker is forgotten and its attempts fail;
    /// a client's reply is counted as undeliverable. When the frames are
    /// at hand, prefer [`Broker::handle_undeliverable`].
    pub fn handle_unroutable(&mut self, now: Instant, side: Side, identity: &[u8]) {
        self.handle_undeliverable(now, side, &[Bytes::copy_from_slice(identity)]);
    }

    /// The adapter could not deliver `frames` (identity first) on `side`:
    /// the peer is gone. A worker is forgotten and the attempts it held
    /// fail, except the one these frames carried, which never reached it:
    /// that request goes back to the head of its queue and the attempt
    /// does not count. A client's reply is counted as undeliverable.
    pub fn handle_undeliverable(&mut self, now: Instant, side: Side, frames: &[Bytes]) {
        let Some(identity) = frames.first() else {
            return;
        };
        let peer = PeerId::new(side, identity.clone());
        let Some(key) = self.workers.key(&peer) else {
            self.stats.client_gone += 1;
            info!(client = ?peer, "client gone: reply dropped");
            return;
        };
        let w = self.workers.at(key).expect("indexed slot");
        let unsent = w
            .dialect
            .request_address(&frames[1..])
            .and_then(|a| RequestId::from_envelope(std::slice::from_ref(a)))
            .filter(|&id| self.requests.get(id).and_then(|r| r.holder()) == Some(key));
        let mut requeued = None;
        if let Some(id) = unsent {
            self.release_hold(id);
            if let Some(epoch) = self.requests.undo_attempt(id) {
                self.stats.undelivered += 1;
                let service = self.requests.get(id).expect("just requeued").service;
                self.services.at_mut(service).push_request_front(id, epoch);
                if let Some(limit) = self.config.wait_limit {
                    self.timers
                        .schedule(now + limit, Timer::Wait { request: id, epoch });
                }
                requeued = Some(service);
            }
        }
        self.stats.workers_lost += 1;
        warn!(worker = ?peer, "worker unreachable: forgotten");
        self.lose_worker(now, &peer);
        if let Some(service) = requeued {
            self.dispatch(now, service);
        }
    }

    fn send(&mut self, peer: &PeerId, frames: Frames) {
        self.outputs.push_back(Output::to(peer, frames));
    }

    /// Sends the (final) reply of a request to `service` back along
    /// `route`.
    fn send_reply(&mut self, route: &Route, service: ServiceKey, body: Frames) {
        let out = reply(route, self.services.name(service), body, true);
        self.outputs.push_back(out);
    }

    /// Sends a failure reply to a request to `service` back along
    /// `route`.
    fn send_failure(&mut self, route: &Route, service: ServiceKey, reason: &str) {
        let out = failure(route, self.services.name(service), reason);
        self.outputs.push_back(out);
    }
}

/// A reply (or, unless `last`, a partial reply) along `route` from the
/// service called `service`.
fn reply(route: &Route, service: &Bytes, body: Frames, last: bool) -> Output {
    let mut frames = lists::take();
    route.path.reply_to(
        &mut frames,
        route.peer.identity.clone(),
        service,
        body,
        last,
    );
    Output {
        side: route.peer.side,
        frames,
    }
}

/// A failure reply along `route` from the service called `service`.
fn failure(route: &Route, service: &Bytes, reason: &str) -> Output {
    let mut frames = lists::take();
    route
        .path
        .failure_to(&mut frames, route.peer.identity.clone(), service, reason);
    Output {
        side: route.peer.side,
        frames,
    }
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
