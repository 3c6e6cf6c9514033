//! Counters of everything the broker did, dropped or refused.
//!
//! Every message the broker does not pass on is counted here, by reason,
//! as well as logged: nothing is dropped silently.

/// Monotonic counters since the broker started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests accepted from clients.
    pub accepted: u64,
    /// Requests answered with a worker's reply.
    pub answered: u64,
    /// Requests that ended with the failure reply (all reasons).
    pub failed: u64,
    /// Of `failed`: refused at once because the queue was full.
    pub rejected_queue_full: u64,
    /// Of `failed`: refused at once because their client had its limit of
    /// requests outstanding.
    pub rejected_client_limit: u64,
    /// Of `failed`: ended by a shutdown (queued, new, or still in flight
    /// when the grace period ran out).
    pub shutdown_failed: u64,
    /// Of `failed`: no worker took them within the wait limit.
    pub wait_expired: u64,
    /// Of `failed`: every attempt failed.
    pub attempts_exhausted: u64,
    /// Dispatches to a worker (first attempts and retries).
    pub dispatched: u64,
    /// Failed attempts that put their request back in the queue.
    pub retried: u64,
    /// Attempts that ran past the attempt timeout.
    pub attempt_timeouts: u64,
    /// Replies accepted from the worker of an earlier attempt.
    pub late_replies: u64,
    /// Replies dropped because their request had already ended.
    pub duplicate_replies: u64,
    /// Replies dropped because they named no request this broker knows.
    pub unknown_replies: u64,
    /// Malformed messages from the client side, dropped.
    pub malformed_frontend: u64,
    /// Malformed messages from the worker side, dropped.
    pub malformed_backend: u64,
    /// Replies that could not be delivered because the client was gone.
    pub client_gone: u64,
    /// Workers declared dead for silence.
    pub workers_expired: u64,
    /// Workers that disappeared (unroutable) or restarted mid-request.
    pub workers_lost: u64,
    /// Heartbeats sent to workers.
    pub heartbeats_sent: u64,
    /// Services forgotten once no worker served them and no request
    /// named them (so many distinct names cannot grow the registry).
    pub services_forgotten: u64,
    /// Requests to `mmi.*` services, answered by the broker itself.
    pub mmi_requests: u64,
    /// Partial replies dropped because they came from a worker that no
    /// longer holds the request's current attempt.
    pub late_partials: u64,
    /// Late replies refused because the current attempt had already
    /// produced a partial reply (the two cannot be mixed).
    pub late_replies_refused: u64,
    /// Workers that said DISCONNECT.
    pub workers_disconnected: u64,
    /// Workers sent DISCONNECT for breaking their protocol (a second
    /// READY, an `mmi.*` service, an unexpected command, a command before
    /// READY).
    pub workers_refused: u64,
    /// Of `failed`: the attempt failed after part of the reply had been
    /// streamed to the client, so it could not be retried.
    pub broken_streams: u64,
    /// Dispatches that could not be sent (the worker was gone): the
    /// request went back to the head of its queue and the attempt did not
    /// count.
    pub undelivered: u64,
}
