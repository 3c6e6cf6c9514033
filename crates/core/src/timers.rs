//! The deadline schedule: attempt timeouts and queue wait limits.
//!
//! Deadlines are never cancelled; each carries enough to tell, when it
//! fires, whether it still applies (the attempt number, the queue epoch),
//! and the broker ignores those that no longer do. That keeps every
//! operation O(log n) without searching the heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::peer::PeerId;
use crate::request::RequestId;

/// Something that happens at a deadline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Attempt `attempt` of `request` at `worker` runs out of time.
    Attempt {
        /// The request.
        request: RequestId,
        /// Which attempt.
        attempt: u32,
        /// The worker it went to.
        worker: PeerId,
    },
    /// A request queued at `epoch` has waited too long for a worker.
    Wait {
        /// The request.
        request: RequestId,
        /// The queue epoch it was queued at.
        epoch: u64,
    },
}

/// A min-heap of deadlines.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    /// Schedules `timer` at `at`.
    pub fn schedule(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest timer if it is due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, t))| t),
            _ => None,
        }
    }

    /// Deadlines scheduled and not yet popped (current or stale).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
        t.schedule(t0 + Duration::from_secs(2), wait(2));
        t.schedule(t0 + Duration::from_secs(1), wait(1));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(t.pop_due(t0 + Duration::from_secs(5)), Some(wait(1)));
        assert_eq!(t.pop_due(t0 + Duration::from_secs(5)), Some(wait(2)));
        assert!(t.is_empty());
    }
}
