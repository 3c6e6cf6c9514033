//! The deadline schedule: attempt timeouts and queue wait limits.
//!
//! Deadlines are never cancelled; each carries enough to tell, when it
//! fires, whether it still applies (the attempt number, the queue epoch),
//! and the broker ignores those that no longer do.
//!
//! Every deadline of one kind is `now + the same duration`, so deadlines
//! arrive in time order: each kind is a FIFO queue, O(1) to schedule and
//! to pop. A deadline that arrives out of order (a caller's clock going
//! backwards) is inserted in its place.

use std::collections::VecDeque;
use std::time::Instant;

use crate::request::RequestId;

/// Something that happens at a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Attempt `attempt` of `request` runs out of time.
    Attempt {
        /// The request.
        request: RequestId,
        /// Which attempt.
        attempt: u32,
    },
    /// A request queued at `epoch` has waited too long for a worker.
    Wait {
        /// The request.
        request: RequestId,
        /// The queue epoch it was queued at.
        epoch: u64,
    },
}

/// Two time-ordered queues of deadlines.
#[derive(Debug, Default)]
pub struct Timers {
    attempts: VecDeque<(Instant, Timer)>,
    waits: VecDeque<(Instant, Timer)>,
}

fn push(queue: &mut VecDeque<(Instant, Timer)>, at: Instant, timer: Timer) {
    match queue.back() {
        Some((last, _)) if *last > at => {
            let i = queue.partition_point(|(t, _)| *t <= at);
            queue.insert(i, (at, timer));
        }
        _ => queue.push_back((at, timer)),
    }
}

impl Timers {
    /// Schedules `timer` at `at`.
    pub fn schedule(&mut self, at: Instant, timer: Timer) {
        match timer {
            Timer::Attempt { .. } => push(&mut self.attempts, at, timer),
            Timer::Wait { .. } => push(&mut self.waits, at, timer),
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        let a = self.attempts.front().map(|(t, _)| *t);
        let w = self.waits.front().map(|(t, _)| *t);
        match (a, w) {
            (Some(a), Some(w)) => Some(a.min(w)),
            (a, w) => a.or(w),
        }
    }

    /// Takes the earliest timer if it is due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let a = self.attempts.front().map(|(t, _)| *t).filter(|t| *t <= now);
        let w = self.waits.front().map(|(t, _)| *t).filter(|t| *t <= now);
        let queue = match (a, w) {
            (Some(a), Some(w)) if w < a => &mut self.waits,
            (Some(_), _) => &mut self.attempts,
            (None, Some(_)) => &mut self.waits,
            (None, None) => return None,
        };
        queue.pop_front().map(|(_, t)| t)
    }

    /// Deadlines scheduled and not yet popped (current or stale).
    pub fn len(&self) -> usize {
        self.attempts.len() + self.waits.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        let wait = |n| Timer::Wait {
            request: RequestId(n),
            epoch: 0,
        };
        let attempt = |n| Timer::Attempt {
            request: RequestId(n),
            attempt: 1,
        };
        t.schedule(t0 + Duration::from_secs(2), wait(2));
        t.schedule(t0 + Duration::from_secs(1), wait(1)); // out of order
        t.schedule(t0 + Duration::from_millis(1500), attempt(3));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(t.pop_due(later), Some(wait(1)));
        assert_eq!(t.pop_due(later), Some(attempt(3)));
        assert_eq!(t.pop_due(later), Some(wait(2)));
        assert!(t.is_empty());
    }
}
