//! A heartbeating (Paranoid Pirate) worker's view of its broker.
//!
//! The worker sends a HEARTBEAT every interval in which it sent nothing
//! else (a reply tells the broker as much). Every interval without
//! any message from the broker costs one unit of liveness; at zero the
//! broker is presumed dead and the worker reconnects after a back-off
//! that starts at 1 s and doubles up to 32 s. Any message from the broker
//! restores liveness and resets the back-off.

use std::time::{Duration, Instant};

/// Heartbeat and reconnect settings of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessConfig {
    /// Interval between heartbeats, both ways.
    pub heartbeat: Duration,
    /// Silent intervals before the broker is presumed dead.
    pub liveness: u32,
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            heartbeat: Duration::from_secs(1),
            liveness: 3,
            reconnect_initial: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(32),
        }
    }
}

/// What the worker must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivenessAction {
    /// Send a HEARTBEAT to the broker.
    Heartbeat,
    /// Close the socket, wait `after`, reconnect and say READY again
    /// (then call [`Liveness::on_connected`]).
    Reconnect {
        /// The back-off to wait before reconnecting.
        after: Duration,
    },
}

/// Liveness state of one worker connection.
#[derive(Debug, Clone)]
pub struct Liveness {
    config: LivenessConfig,
    remaining: u32,
    next_heartbeat: Instant,
    next_check: Instant,
    backoff: Duration,
}

impl Liveness {
    /// A worker that has just connected and said READY at `now`.
    pub fn new(config: LivenessConfig, now: Instant) -> Self {
        let mut l = Liveness {
            config,
            remaining: config.liveness.max(1),
            next_heartbeat: now,
            next_check: now,
            backoff: config.reconnect_initial,
        };
        l.on_connected(now);
        l
    }

    /// The worker (re)connected and said READY at `now`.
    pub fn on_connected(&mut self, now: Instant) {
        self.remaining = self.config.liveness.max(1);
        self.next_heartbeat = now + self.config.heartbeat;
        self.next_check = now + self.config.heartbeat;
    }

    /// Any message arrived from the broker at `now`.
    pub fn on_message(&mut self, now: Instant) {
        self.remaining = self.config.liveness.max(1);
        self.next_check = now + self.config.heartbeat;
        self.backoff = self.config.reconnect_initial;
    }

    /// A message (a reply) went to the broker at `now`. It tells the
    /// broker the worker is alive as a HEARTBEAT would (6/PPP's queue and
    /// 7/MDP's broker count any message, and 7/MDP says not to send
    /// HEARTBEAT along with other commands), so the next HEARTBEAT is
    /// due an interval after it.
    pub fn on_sent(&mut self, now: Instant) {
        self.next_heartbeat = self.next_heartbeat.max(now + self.config.heartbeat);
    }

    /// When [`Liveness::poll_action`] has something to say next.
    pub fn poll_timeout(&self) -> Instant {
        self.next_heartbeat.min(self.next_check)
    }

    /// The next thing to do at `now`, if any; call until `None`.
    pub fn poll_action(&mut self, now: Instant) -> Option<LivenessAction> {
        while now >= self.next_check {
            self.remaining -= 1;
            self.next_check += self.config.heartbeat;
            if self.remaining == 0 {
                let after = self.backoff;
                self.backoff = (self.backoff * 2).min(self.config.reconnect_max);
                // Quiet until the adapter reconnects and calls on_connected.
                self.remaining = self.config.liveness.max(1);
                self.next_check = now + after + self.config.heartbeat;
                self.next_heartbeat = now + after + self.config.heartbeat;
                return Some(LivenessAction::Reconnect { after });
            }
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat;
            return Some(LivenessAction::Heartbeat);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn drain(l: &mut Liveness, now: Instant) -> Vec<LivenessAction> {
        std::iter::from_fn(|| l.poll_action(now)).collect()
    }

    #[test]
    fn heartbeats_every_interval() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default(), t0);
        assert_eq!(l.poll_timeout(), t0 + S);
        assert!(drain(&mut l, t0).is_empty());
        l.on_message(t0 + S / 2);
        assert_eq!(drain(&mut l, t0 + S), vec![LivenessAction::Heartbeat]);
    }

    #[test]
    fn a_message_sent_stands_for_the_next_heartbeat() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default(), t0);
        l.on_message(t0 + S / 2);
        l.on_sent(t0 + S / 2);
        assert!(
            drain(&mut l, t0 + S).is_empty(),
            "a reply went half an interval ago"
        );
        assert_eq!(l.poll_timeout(), t0 + S * 3 / 2);
        l.on_message(t0 + S * 3 / 2);
        assert_eq!(
            drain(&mut l, t0 + S * 3 / 2),
            vec![LivenessAction::Heartbeat]
        );
    }

    #[test]
    fn reconnects_after_liveness_silent_intervals_with_doubling_backoff() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default(), t0);
        let mut now = t0;
        let mut backoffs = Vec::new();
        for _ in 0..40 {
            now = l.poll_timeout();
            for a in drain(&mut l, now) {
                if let LivenessAction::Reconnect { after } = a {
                    backoffs.push(after.as_secs());
                    now += after;
                    l.on_connected(now);
                }
            }
        }
        assert_eq!(&backoffs[..7], &[1, 2, 4, 8, 16, 32, 32]);
        // The first reconnect came after exactly 3 silent intervals.
        let mut l = Liveness::new(LivenessConfig::default(), t0);
        assert!(!drain(&mut l, t0 + 2 * S).contains(&LivenessAction::Reconnect { after: S }));
        assert!(drain(&mut l, t0 + 3 * S).contains(&LivenessAction::Reconnect { after: S }));
        let _ = now;
    }

    #[test]
    fn a_message_resets_liveness_and_backoff() {
        let t0 = Instant::now();
        let mut l = Liveness::new(LivenessConfig::default(), t0);
        assert!(drain(&mut l, t0 + 3 * S).contains(&LivenessAction::Reconnect { after: S }));
        l.on_connected(t0 + 4 * S);
        l.on_message(t0 + 4 * S);
        assert!(drain(&mut l, t0 + 6 * S)
            .iter()
            .all(|a| *a == LivenessAction::Heartbeat));
        assert!(drain(&mut l, t0 + 7 * S).contains(&LivenessAction::Reconnect { after: S }));
    }
}
