//! Broker settings.

use std::time::Duration;

use bytes::Bytes;
use corsair_proto::WorkerDialect;

/// A heartbeat agreement: the interval both sides send at, and how many
/// silent intervals make a peer dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// Time between heartbeats (and between the broker's expiry checks).
    pub interval: Duration,
    /// Silent intervals after which a worker is dead.
    pub liveness: u32,
}

impl HeartbeatConfig {
    /// Silence after which a worker is declared dead.
    pub fn expiry(&self) -> Duration {
        self.interval * self.liveness.max(1)
    }
}

/// What the broker promises and how hard it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Dispatches per request before the client gets the failure reply
    /// (`None`: no limit, as the classic task broker without `-t`).
    pub max_attempts: Option<u32>,
    /// How long one attempt may take before the request is given to
    /// another worker (`None`: an attempt ends only with a reply or the
    /// worker's death, as the classic task broker without `-T`).
    pub attempt_timeout: Option<Duration>,
    /// Heartbeats with Paranoid Pirate workers (default 1 s x 3, as
    /// 6/PPP's examples).
    pub heartbeat: HeartbeatConfig,
    /// Heartbeats with Majordomo workers (default 2.5 s x 3, as the
    /// zguide's Majordomo broker).
    pub mdp_heartbeat: HeartbeatConfig,
    /// Requests outstanding (queued or in flight), over all services,
    /// beyond which a new request gets the failure reply at once. Counting
    /// in-flight requests too means a failed attempt going back to the
    /// queue can never push the queue over the bound.
    pub queue_limit: usize,
    /// How long a request may wait in the queue for a worker before the
    /// client gets the failure reply (`None`: as long as it takes).
    pub wait_limit: Option<Duration>,
    /// The service that plain clients and Pirate workers use.
    pub default_service: Bytes,
    /// Requests one client connection may have outstanding (queued or in
    /// flight); a request over it gets the failure reply at once (`None`:
    /// no limit beyond `queue_limit`).
    pub client_limit: Option<u32>,
    /// Requests arriving together (in one turn: before the outputs are
    /// next drained) that one worker with credit may be given in a row
    /// before the next idle worker is taken. 1 (the default) is the
    /// zguide's least-recently-used order request by request; more
    /// sends such requests to a worker together, in one write, which is
    /// what keeps many fast workers as cheap as a few, at the cost of
    /// spreading less when workers are slow.
    pub batch: u32,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_attempts: Some(3),
            attempt_timeout: Some(Duration::from_secs(2)),
            heartbeat: HeartbeatConfig {
                interval: Duration::from_secs(1),
                liveness: 3,
            },
            mdp_heartbeat: HeartbeatConfig {
                interval: Duration::from_millis(2500),
                liveness: 3,
            },
            queue_limit: 100_000,
            wait_limit: Some(Duration::from_secs(5)),
            default_service: Bytes::from_static(b"default"),
            client_limit: None,
            batch: 1,
        }
    }
}

impl BrokerConfig {
    /// The heartbeat agreement with workers of `dialect`.
    pub fn heartbeat_for(&self, dialect: WorkerDialect) -> &HeartbeatConfig {
        if dialect.is_mdp() {
            &self.mdp_heartbeat
        } else {
            &self.heartbeat
        }
    }
}
