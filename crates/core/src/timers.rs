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
//!
//! A running broker schedules an attempt deadline for every dispatch and
//! keeps it for the whole attempt timeout, answered or not: at 300,000
//! requests a second and 2 s, 600,000 of them. So an entry is kept to 24
//! bytes: its time as nanoseconds from the schedule's origin, the
//! request, and the attempt or queue epoch; its queue says which kind it
//! is.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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

/// One scheduled deadline: when (nanoseconds from the origin), the
/// request, and the attempt or the queue epoch.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: u64,
    request: RequestId,
    tag: u64,
}

/// Two time-ordered queues of deadlines.
#[derive(Debug)]
pub struct Timers {
    /// The instant deadlines are counted from; one before it counts as
    /// due at it.
    origin: Instant,
    attempts: VecDeque<Entry>,
    waits: VecDeque<Entry>,
}

fn push(queue: &mut VecDeque<Entry>, entry: Entry) {
    match queue.back() {
        Some(last) if last.at > entry.at => {
            let i = queue.partition_point(|e| e.at <= entry.at);
            queue.insert(i, entry);
        }
        _ => queue.push_back(entry),
    }
}

impl Timers {
    /// An empty schedule counting from `origin` (the broker's start).
    pub fn new(origin: Instant) -> Self {
        Timers {
            origin,
            attempts: VecDeque::new(),
            waits: VecDeque::new(),
        }
    }

    /// Schedules `timer` at `at`.
    pub fn schedule(&mut self, at: Instant, timer: Timer) {
        let at = self.nanos(at);
        match timer {
            Timer::Attempt { request, attempt } => push(
                &mut self.attempts,
                Entry {
                    at,
                    request,
                    tag: u64::from(attempt),
                },
            ),
            Timer::Wait { request, epoch } => push(
                &mut self.waits,
                Entry {
                    at,
                    request,
                    tag: epoch,
                },
            ),
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        let a = self.attempts.front().map(|e| e.at);
        let w = self.waits.front().map(|e| e.at);
        let at = match (a, w) {
            (Some(a), Some(w)) => a.min(w),
            (a, w) => a.or(w)?,
        };
        Some(self.origin + Duration::from_nanos(at))
    }

    /// Takes the earliest timer if it is due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let now = self.nanos(now);
        let a = self.attempts.front().map(|e| e.at).filter(|&t| t <= now);
        let w = self.waits.front().map(|e| e.at).filter(|&t| t <= now);
        match (a, w) {
            (Some(a), Some(w)) if w < a => self.pop_wait(),
            (Some(_), _) => self.pop_attempt(),
            (None, Some(_)) => self.pop_wait(),
            (None, None) => None,
        }
    }

    /// `at` in nanoseconds from the origin (0 before it).
    fn nanos(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        d.as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()))
    }

    fn pop_attempt(&mut self) -> Option<Timer> {
        let e = self.attempts.pop_front()?;
        // Attempts are u32s, stored widened.
        let attempt = u32::try_from(e.tag).expect("an attempt number");
        Some(Timer::Attempt {
            request: e.request,
            attempt,
        })
    }

    fn pop_wait(&mut self) -> Option<Timer> {
        let e = self.waits.pop_front()?;
        Some(Timer::Wait {
            request: e.request,
            epoch: e.tag,
        })
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
        let mut t = Timers::new(t0);
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

    #[test]
    fn a_deadline_before_the_origin_is_due_at_once() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut t = Timers::new(t0);
        let early = Timer::Attempt {
            request: RequestId(7),
            attempt: u32::MAX,
        };
        t.schedule(t0 - Duration::from_secs(5), early);
        assert_eq!(t.next(), Some(t0));
        assert_eq!(t.pop_due(t0), Some(early));
        assert_eq!(t.pop_due(t0), None);
    }

    #[test]
    fn an_entry_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }
}
