//! Graceful shutdown: stop taking requests, let the attempts in flight
//! finish, then give every request still outstanding the failure reply
//! and tell Majordomo workers to disconnect.
//!
//! [`Broker::drain`] starts it: queued requests get the failure reply at
//! once (no worker has them), new requests get it as they come, and an
//! attempt in flight that fails is not retried. The caller then keeps
//! serving until [`Broker::outstanding`] is zero or its grace period is
//! over, and calls [`Broker::finish`].

use std::time::Instant;

use tracing::{info, warn};

use super::Broker;
use crate::request::RequestId;

/// The failure reason every request ended by a shutdown gets.
pub const SHUTDOWN_REASON: &str = "broker shutting down";

impl Broker {
    /// Starts a graceful shutdown (see the module documentation).
    pub fn drain(&mut self, _now: Instant) {
        if self.draining {
            return;
        }
        self.draining = true;
        let queued: Vec<RequestId> = self
            .requests
            .ids()
            .filter(|id| {
                self.requests
                    .get(*id)
                    .is_some_and(|r| r.in_flight().is_none())
            })
            .collect();
        info!(
            queued = queued.len(),
            in_flight = self.in_flight(),
            "draining: no new requests; queued ones get the failure reply"
        );
        for id in queued {
            self.end_with_shutdown(id);
        }
    }

    /// True once [`Broker::drain`] has been called.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Ends the shutdown: every request still outstanding gets the
    /// failure reply, and every Majordomo worker DISCONNECT.
    pub fn finish(&mut self, now: Instant) {
        self.drain(now);
        let left: Vec<RequestId> = self.requests.ids().collect();
        if !left.is_empty() {
            warn!(
                requests = left.len(),
                "grace period over: failure reply to requests still in flight"
            );
        }
        for id in left {
            self.end_with_shutdown(id);
        }
        for (peer, dialect) in self.workers.peers() {
            if let Some(frames) = dialect.disconnect() {
                self.send(&peer, frames);
            }
        }
    }

    /// Ends request `id` with the shutdown failure reply.
    pub(super) fn end_with_shutdown(&mut self, id: RequestId) {
        // Ending it frees the credit of the worker that held it.
        if let Some(req) = self.end_request(id) {
            self.stats.failed += 1;
            self.stats.shutdown_failed += 1;
            self.send_failure(&req.route, req.service, SHUTDOWN_REASON);
        }
    }
}
