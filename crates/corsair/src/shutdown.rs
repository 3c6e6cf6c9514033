//! The stop signal a caller hands to a broker, client or worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a blocked loop looks at the signal.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(50);

/// A cloneable flag: trigger it once and every loop holding a clone
/// winds down. Signal handlers can set it through [`Shutdown::flag`].
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks everything holding a clone to stop.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The underlying flag, e.g. for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
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
    let wait = deadline.map_or(CHECK_EVERY, |d| d.saturating_duration_since(now).min(CHECK_EVERY));
    // Round up so a deadline 0.4 ms away does not spin.
    wait.as_micros().div_ceil(1000) as i64
}
