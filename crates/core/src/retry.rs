//! The Lazy Pirate client's retry policy.
//!
//! A request is sent, then the client waits up to `timeout` for the
//! reply. On timeout the socket is thrown away (linger 0, close), a new
//! one connects to the next endpoint in turn, and the request is resent,
//! `retries` times at most (`None`: for ever, as the Simple Pirate demo
//! client does). Then the client gives up with an error.

use std::time::Duration;

/// How long to wait and how often to resend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Resends after the first send (`None`: unlimited).
    pub retries: Option<u32>,
}

impl Default for RetryPolicy {
    /// 10 s and 3 retries: longer than the broker's default 3 attempts
    /// of 2 s and its 5 s wait limit, so the broker's definite answer
    /// normally arrives before the client resends.
    fn default() -> Self {
        RetryPolicy {
            timeout: Duration::from_secs(10),
            retries: Some(3),
        }
    }
}

/// The retry state of one request.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
    endpoints: usize,
    endpoint: usize,
    sends: u32,
}

impl Retry {
    /// A request about to be sent to endpoint number `first` of
    /// `endpoints`.
    pub fn new(policy: RetryPolicy, endpoints: usize, first: usize) -> Self {
        let endpoints = endpoints.max(1);
        Retry {
            policy,
            endpoints,
            endpoint: first % endpoints,
            sends: 1,
        }
    }

    /// The endpoint the request is (re)sent to.
    pub fn endpoint(&self) -> usize {
        self.endpoint
    }

    /// How many times the request has been sent.
    pub fn sends(&self) -> u32 {
        self.sends
    }

    /// How long to wait for the reply to the current send.
    pub fn timeout(&self) -> Duration {
        self.policy.timeout
    }

    /// The reply did not come in time: the endpoint to reconnect to and
    /// resend on, or `None` when retries are used up.
    pub fn on_timeout(&mut self) -> Option<usize> {
        if let Some(max) = self.policy.retries {
            if self.sends > max {
                return None;
            }
        }
        self.sends = self.sends.saturating_add(1);
        self.endpoint = (self.endpoint + 1) % self.endpoints;
        Some(self.endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: Option<u32>) -> RetryPolicy {
        RetryPolicy {
            timeout: Duration::from_millis(100),
            retries,
        }
    }

    #[test]
    fn gives_up_after_the_configured_retries() {
        let mut r = Retry::new(policy(Some(2)), 1, 0);
        assert_eq!(r.on_timeout(), Some(0));
        assert_eq!(r.on_timeout(), Some(0));
        assert_eq!(r.on_timeout(), None);
        assert_eq!(r.sends(), 3);
    }

    #[test]
    fn zero_retries_sends_once() {
        let mut r = Retry::new(policy(Some(0)), 1, 0);
        assert_eq!(r.on_timeout(), None);
        assert_eq!(r.sends(), 1);
    }

    #[test]
    fn rotates_through_endpoints() {
        let mut r = Retry::new(policy(Some(5)), 3, 1);
        assert_eq!(r.endpoint(), 1);
        let seen: Vec<_> = (0..4).map(|_| r.on_timeout().unwrap()).collect();
        assert_eq!(seen, vec![2, 0, 1, 2]);
    }

    #[test]
    fn unlimited_retries_never_give_up() {
        let mut r = Retry::new(policy(None), 2, 0);
        for _ in 0..10_000 {
            assert!(r.on_timeout().is_some());
        }
    }
}
