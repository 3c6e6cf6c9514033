//! The broker's heartbeat schedule: one tick per interval, at which every
//! heartbeating worker gets a HEARTBEAT and silent ones are expired.

use std::time::{Duration, Instant};

/// When the next heartbeat tick is due.
#[derive(Debug, Clone)]
pub struct HeartbeatSchedule {
    interval: Duration,
    next: Instant,
}

impl HeartbeatSchedule {
    /// First tick one interval after `now`.
    pub fn new(now: Instant, interval: Duration) -> Self {
        HeartbeatSchedule {
            interval,
            next: now + interval,
        }
    }

    /// When the next tick is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// True (once) when a tick is due at `now`; schedules the next one.
    /// Ticks missed while the broker was busy collapse into one.
    pub fn tick(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next += self.interval;
        if self.next <= now {
            self.next = now + self.interval;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_once_per_interval_and_collapses_missed_ticks() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut hb = HeartbeatSchedule::new(t0, s);
        assert!(!hb.tick(t0));
        assert!(hb.tick(t0 + s));
        assert!(!hb.tick(t0 + s));
        assert_eq!(hb.next(), t0 + 2 * s);
        assert!(hb.tick(t0 + 10 * s));
        assert_eq!(hb.next(), t0 + 11 * s);
    }
}
