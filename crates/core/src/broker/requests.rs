//! The request flow: accepting requests, MMI, dispatch to idle workers,
//! partial and final replies, failed attempts, timeouts and wait limits.

use std::time::Instant;

use bytes::Bytes;
use corsair_proto::{lists, Enveloped, Frames};
use tracing::{debug, info, warn};

use super::Broker;
use crate::mmi;
use crate::peer::{Output, PeerId, Side};
use crate::request::{RequestId, RequestState, Route};
use crate::service::ServiceKey;
use crate::timers::Timer;
use crate::worker::WorkerKey;

impl Broker {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        route: Route,
        service: Option<Bytes>,
        body: Frames,
    ) {
        let name = service.as_ref().unwrap_or(&self.config.default_service);
        if mmi::is_mmi(name) {
            let name = name.clone();
            self.answer_mmi(route, name, body);
            return;
        }
        let service = match service {
            Some(name) => self.services.key(name),
            None => self.default_service,
        };
        self.accept(now, route, service, body);
    }

    fn answer_mmi(&mut self, route: Route, service: Bytes, body: Frames) {
        self.stats.mmi_requests += 1;
        let first = body.first().cloned().unwrap_or_default();
        let code = mmi::answer(&service, &first, |name| self.has_workers(name));
        debug!(service = ?service, name = ?first, code, "MMI answered");
        let answer = vec![Bytes::from_static(code.as_bytes())];
        self.outputs
            .push_back(super::reply(&route, &service, answer, true));
    }

    fn accept(&mut self, now: Instant, route: Route, service: ServiceKey, body: Frames) {
        self.stats.accepted += 1;
        if self.draining {
            self.stats.failed += 1;
            self.stats.shutdown_failed += 1;
            info!(client = ?route.peer, "shutting down: failure reply to a new request");
            self.send_failure(&route, service, super::SHUTDOWN_REASON);
            return;
        }
        if self.requests.len() >= self.config.queue_limit {
            self.stats.rejected_queue_full += 1;
            self.stats.failed += 1;
            warn!(client = ?route.peer, limit = self.config.queue_limit, "queue full: failure reply");
            self.send_failure(&route, service, "queue full");
            return;
        }
        if let Some(limit) = self.config.client_limit {
            let outstanding = self.per_client.entry(route.peer.clone()).or_default();
            if *outstanding >= limit {
                self.stats.rejected_client_limit += 1;
                self.stats.failed += 1;
                warn!(client = ?route.peer, limit, "client over its limit of outstanding requests: failure reply");
                self.send_failure(&route, service, "too many requests outstanding");
                return;
            }
            *outstanding += 1;
        }
        let (id, epoch) = self.requests.insert(route, service, body);
        debug!(request = id.0, service = ?self.services.name(service), "request accepted");
        self.services.request_started(service, id, epoch);
        self.dispatch(now, service);
        // Only a request still waiting needs a wait deadline: most find
        // an idle worker at once, and a deadline nobody needs would sit
        // in the queue for the whole wait limit.
        if self.requests.is_queued_at(id, epoch) {
            self.schedule_wait(now, id, epoch);
        }
    }

    /// Removes a request that is ending (its reply or failure is about
    /// to be sent), keeping its client's count.
    #[inline]
    pub(super) fn end_request(&mut self, id: RequestId) -> Option<crate::request::Request> {
        self.release_hold(id);
        let req = self.requests.remove(id)?;
        // The reply about to be sent still names the service: it is
        // forgotten, if unused, only when the turn's output is taken.
        self.services.request_ended(req.service);
        if self.config.client_limit.is_some() {
            if let Some(n) = self.per_client.get_mut(&req.route.peer) {
                *n -= 1;
                if *n == 0 {
                    self.per_client.remove(&req.route.peer);
                }
            }
        }
        Some(req)
    }

    fn schedule_wait(&mut self, now: Instant, request: RequestId, epoch: u64) {
        if let Some(limit) = self.config.wait_limit {
            self.timers
                .schedule(now + limit, Timer::Wait { request, epoch });
        }
    }

    /// Gives queued requests of `service` to its idle workers.
    pub(super) fn dispatch(&mut self, now: Instant, service_key: ServiceKey) {
        let service = self.services.at_mut(service_key);
        // Nothing queued (the usual case when a reply frees a worker): no
        // worker need be looked at.
        while service.has_pending() {
            let workers = &self.workers;
            let picked = service
                .take_held(|w, e| workers.is_idle_at(w, e))
                .or_else(|| {
                    let (key, epoch) = service.pop_idle(|w, e| workers.is_idle_at(w, e))?;
                    Some((key, epoch, 0))
                });
            let Some((key, idle_epoch, given)) = picked else {
                break;
            };
            let requests = &self.requests;
            let Some((id, _)) = service.pop_request(|id, epoch| requests.is_queued_at(id, epoch))
            else {
                if given > 0 {
                    service.hold(key, idle_epoch, given);
                } else {
                    service.unpop_idle(key, idle_epoch);
                }
                break;
            };
            let peer = workers
                .at(key)
                .expect("popped worker is known")
                .peer
                .clone();
            let attempt = self
                .requests
                .start_attempt(id, peer.clone())
                .expect("popped request is queued");
            let (dialect, renewed) = self
                .workers
                .take(key, &mut self.requests, id, now)
                .expect("popped worker is known and the request unheld");
            // A worker with credit left takes the rest of this turn's
            // requests, up to the batch; then (or when the turn ends) it
            // goes back to the idle queue, at the back.
            if let Some(epoch) = renewed {
                if given + 1 < self.config.batch {
                    if given == 0 {
                        self.held.push(service_key);
                    }
                    service.hold(key, epoch, given + 1);
                } else {
                    service.push_idle(key, epoch);
                }
            }
            self.stats.dispatched += 1;
            debug!(request = id.0, worker = ?peer, attempt, "dispatched");
            if let Some(timeout) = self.config.attempt_timeout {
                self.timers.schedule(
                    now + timeout,
                    Timer::Attempt {
                        request: id,
                        attempt,
                    },
                );
            }
            let body = self.requests.get(id).expect("just started").body.frames();
            let mut frames = lists::take();
            let address = self.ids.copy(&id.to_bytes());
            dialect.request_to(&mut frames, peer.identity, address, body);
            self.outputs.push_back(Output {
                side: peer.side,
                frames,
            });
        }
    }

    /// A fetch worker's answer (no sender known): ends the request; the
    /// fetch worker that held it waits for its next ask.
    pub(super) fn handle_fetch_answer(&mut self, answer: Enveloped) {
        // The fetch worker holding it, unless it has asked again already.
        let holder = RequestId::from_envelope(&answer.envelope).and_then(|id| {
            let req = self.requests.get(id)?;
            match req.in_flight() {
                Some((worker, _)) if worker.side == Side::Fetch => req.holder(),
                _ => None,
            }
        });
        // Ends the request, which frees the holder's credit.
        self.handle_reply(None, answer);
        if let Some(w) = holder.and_then(|key| self.workers.at_mut(key)) {
            // It gets new work when it asks again.
            w.suspect = true;
        }
    }

    /// A worker's (final) reply, from `worker` or, for answers on the
    /// PULL socket, from an unknown fetch worker (`None`). Ends the
    /// request it names if that is still outstanding; returns the id the
    /// envelope names, if any.
    pub(super) fn handle_reply(
        &mut self,
        worker: Option<&PeerId>,
        reply: Enveloped,
    ) -> Option<RequestId> {
        let id = RequestId::from_envelope(&reply.envelope);
        match id.and_then(|id| self.requests.get(id).map(|r| (id, r))) {
            Some((id, req)) => {
                let current = match (&req.state, worker) {
                    (RequestState::InFlight { worker: w, .. }, Some(from)) => w == from,
                    (RequestState::InFlight { worker: w, .. }, None) => w.side == Side::Fetch,
                    (RequestState::Queued { .. }, _) => false,
                };
                if !current {
                    if req.streamed || req.partial.is_some() {
                        self.stats.late_replies_refused += 1;
                        info!(request = id.0, worker = ?worker, "late reply refused: the current attempt has sent part of its reply");
                        return Some(id);
                    }
                    self.stats.late_replies += 1;
                    info!(request = id.0, worker = ?worker, "late reply from an earlier attempt accepted");
                }
                // The attempt held elsewhere, if a late reply ends the
                // request under it: that worker's credit comes back (the
                // request's end releases it).
                let superseded = match (req.holder(), worker) {
                    (Some(key), Some(from)) => self
                        .workers
                        .at(key)
                        .filter(|holder| holder.peer != *from)
                        .map(|_| key),
                    _ => None,
                };
                let mut req = self.end_request(id).expect("looked up above");
                if let Some(key) = superseded {
                    self.stop_waiting_for(key);
                }
                self.stats.answered += 1;
                debug!(request = id.0, worker = ?worker, "answered");
                let body = match req.partial.take() {
                    None => reply.body,
                    Some(mut held) => {
                        held.extend(reply.body);
                        *held
                    }
                };
                self.send_reply(&req.route, req.service, body);
                req.recycle();
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
        lists::give(reply.envelope);
        id
    }

    /// A partial reply (MDP/0.2): streamed on to clients that take parts,
    /// held for the others until the final reply.
    pub(super) fn handle_partial(&mut self, worker: &PeerId, part: Enveloped) {
        let id = RequestId::from_envelope(&part.envelope);
        let req = id.and_then(|id| self.requests.get_mut(id));
        let Some(req) = req.filter(
            |r| matches!(&r.state, RequestState::InFlight { worker: w, .. } if w == worker),
        ) else {
            self.stats.late_partials += 1;
            info!(worker = ?worker, "partial reply from a worker without the current attempt dropped");
            return;
        };
        if req.route.path.streams() {
            req.streamed = true;
            let name = self.services.name(req.service);
            self.outputs
                .push_back(super::reply(&req.route, name, part.body, false));
        } else {
            req.partial
                .get_or_insert_with(Default::default)
                .extend(part.body);
        }
    }

    /// Ends attempt `attempt` of `id` at `worker` as failed, if it is the
    /// request's current attempt: requeue at the head, or fail the
    /// request when no attempt is left or part of a reply was streamed.
    pub(super) fn fail_attempt(
        &mut self,
        now: Instant,
        id: RequestId,
        attempt: u32,
        worker: &PeerId,
    ) {
        let Some(req) = self.requests.get(id) else {
            return;
        };
        let current = matches!(req.in_flight(), Some((w, a)) if w == worker && a == attempt);
        if !current {
            return;
        }
        if self.draining {
            info!(
                request = id.0,
                attempt, "attempt failed while shutting down: no retry"
            );
            self.end_with_shutdown(id);
        } else if req.streamed {
            let req = self.end_request(id).expect("looked up above");
            self.stats.broken_streams += 1;
            self.stats.failed += 1;
            warn!(
                request = id.0,
                attempt, "attempt failed after a partial reply: failure reply"
            );
            self.send_failure(
                &req.route,
                req.service,
                "attempt failed after a partial reply",
            );
        } else if self
            .config
            .max_attempts
            .is_none_or(|max| req.attempts < max)
        {
            let service = req.service;
            let epoch = self.requests.requeue(id).expect("in flight");
            self.stats.retried += 1;
            info!(
                request = id.0,
                attempt, "attempt failed: request requeued at the head"
            );
            self.services.at_mut(service).push_request_front(id, epoch);
            self.schedule_wait(now, id, epoch);
            self.dispatch(now, service);
        } else {
            let req = self.end_request(id).expect("looked up above");
            self.stats.attempts_exhausted += 1;
            self.stats.failed += 1;
            warn!(
                request = id.0,
                attempts = req.attempts,
                "all attempts failed: failure reply"
            );
            let reason = format!("all {} attempts failed", req.attempts);
            self.send_failure(&req.route, req.service, &reason);
        }
    }

    /// The broker has stopped waiting for an attempt the worker in slot
    /// `key` held (it timed out, or another attempt's reply ended the
    /// request), and the attempt is released: its credit is free, but the
    /// worker, which may still be working on it, gets no new work until
    /// its next sign of life.
    fn stop_waiting_for(&mut self, key: WorkerKey) {
        let Some(w) = self.workers.at_mut(key) else {
            return;
        };
        if w.dialect.speaks_again_after_timeout() {
            w.suspect = true;
        } else {
            // A REQ worker that never answered cannot speak again on this
            // connection; its late reply registers it anew.
            let peer = w.peer.clone();
            self.forget_worker(&peer);
        }
    }

    pub(super) fn attempt_timed_out(&mut self, now: Instant, request: RequestId, attempt: u32) {
        let Some(req) = self.requests.get(request) else {
            return;
        };
        let worker = match req.in_flight() {
            Some((worker, a)) if a == attempt => worker.clone(),
            _ => return,
        };
        self.stats.attempt_timeouts += 1;
        warn!(request = request.0, worker = ?worker, attempt, "attempt timed out");
        if let Some(key) = self.release_hold(request) {
            self.stop_waiting_for(key);
        }
        self.fail_attempt(now, request, attempt, &worker);
    }

    pub(super) fn wait_expired(&mut self, id: RequestId, epoch: u64) {
        if !self.requests.is_queued_at(id, epoch) {
            return;
        }
        let req = self.end_request(id).expect("checked above");
        self.stats.wait_expired += 1;
        self.stats.failed += 1;
        warn!(request = id.0, service = ?self.services.name(req.service), "no worker took the request in time: failure reply");
        let limit = self.config.wait_limit.unwrap_or_default();
        let reason = format!("no worker took the request within {limit:?}");
        self.send_failure(&req.route, req.service, &reason);
    }
}
