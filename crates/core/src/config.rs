//! Broker settings.

use std::time::Duration;

use bytes::Bytes;

/// What the broker promises and how hard it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Dispatches per request before the client gets the failure reply.
    pub max_attempts: u32,
    /// How long one attempt may take before the request is given to
    /// another worker.
    pub attempt_timeout: Duration,
    /// Heartbeat interval towards Paranoid Pirate workers (and the
    /// interval at which the broker checks worker expiry).
    pub heartbeat_interval: Duration,
    /// Heartbeat intervals of silence after which a worker is dead.
    pub liveness: u32,
    /// Requests waiting for a worker, over all services, beyond which a
    /// new request gets the failure reply at once.
    pub queue_limit: usize,
    /// How long a request may wait in the queue for a worker before the
    /// client gets the failure reply.
    pub wait_limit: Duration,
    /// The service that plain clients and Pirate workers use.
    pub default_service: Bytes,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(2),
            heartbeat_interval: Duration::from_secs(1),
            liveness: 3,
            queue_limit: 100_000,
            wait_limit: Duration::from_secs(5),
            default_service: Bytes::from_static(b"default"),
        }
    }
}

impl BrokerConfig {
    /// Silence after which a heartbeating worker is declared dead.
    pub fn expiry(&self) -> Duration {
        self.heartbeat_interval * self.liveness.max(1)
    }
}
