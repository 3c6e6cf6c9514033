//! The stop signal a caller hands to a broker, client or worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a blocked loop looks at the signal.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(50);

/// A cloneable flag: trigger it once and every loop holding a clone
/// winds down. Signal handlers can set it through [`Shutdown::flag`].
/// A [`Shutdown::child`] stops with its parent but can also be stopped
/// alone (one worker among many, say).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    parent: Option<Box<Shutdown>>,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// A signal that is triggered when `self` is, or on its own.
    pub fn child(&self) -> Self {
        Shutdown {
            flag: Arc::default(),
            parent: Some(Box::new(self.clone())),
        }
    }

    /// Asks everything holding a clone (and every child) to stop.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// True once this signal or one of its parents is triggered.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.is_triggered())
    }

    /// This signal's own flag, e.g. for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Sleeps for `d`, waking early if triggered; true if triggered.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = std::time::Instant::now() + d;
        loop {
            if self.is_triggered() {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= end {
                return false;
            }
            std::thread::sleep((end - now).min(CHECK_EVERY));
        }
    }
}

/// Milliseconds to poll for: until `deadline` but no longer than the
/// shutdown check interval.
pub(crate) fn poll_ms(now: std::time::Instant, deadline: Option<std::time::Instant>) -> i64 {
    let wait = deadline.map_or(CHECK_EVERY, |d| {
        d.saturating_duration_since(now).min(CHECK_EVERY)
    });
    // Round up so a deadline 0.4 ms away does not spin.
    wait.as_micros().div_ceil(1000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_stops_with_its_parent_but_not_the_other_way() {
        let parent = Shutdown::new();
        let child = parent.child();
        child.trigger();
        assert!(child.is_triggered());
        assert!(!parent.is_triggered());
        let other = parent.child();
        parent.trigger();
        assert!(other.is_triggered());
    }
}
