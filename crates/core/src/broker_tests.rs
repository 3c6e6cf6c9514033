//! Unit tests of every broker rule, with virtual time and no sockets.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::config::HeartbeatConfig;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn config() -> BrokerConfig {
    BrokerConfig {
        max_attempts: Some(3),
        attempt_timeout: Some(Duration::from_millis(500)),
        heartbeat: HeartbeatConfig {
            interval: Duration::from_secs(1),
            liveness: 3,
        },
        mdp_heartbeat: HeartbeatConfig {
            interval: Duration::from_millis(2500),
            liveness: 3,
        },
        queue_limit: 100,
        wait_limit: Some(Duration::from_secs(10)),
        default_service: b("default"),
        client_limit: None,
        batch: 1,
    }
}

struct Harness {
    broker: Broker,
    t0: Instant,
}

impl Harness {
    fn new(config: BrokerConfig) -> Self {
        let t0 = Instant::now();
        Harness {
            broker: Broker::new(config, t0),
            t0,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn ppp_ready(&mut self, ms: u64, w: &str) {
        self.broker
            .handle_backend(self.at(ms), b(w), vec![Bytes::from_static(&[0x01])]);
    }

    fn sp_ready(&mut self, ms: u64, w: &str) {
        self.broker.handle_backend(
            self.at(ms),
            b(w),
            vec![Bytes::new(), Bytes::from_static(&[0x01])],
        );
    }

    fn ppp_heartbeat(&mut self, ms: u64, w: &str) {
        self.broker
            .handle_backend(self.at(ms), b(w), vec![Bytes::from_static(&[0x02])]);
    }

    fn request(&mut self, ms: u64, client: &str, body: &str) {
        self.broker
            .handle_frontend(self.at(ms), b(client), vec![Bytes::new(), b(body)]);
    }

    /// Replies as a PPP worker (`simple = false`) or a REQ worker.
    fn reply(&mut self, ms: u64, w: &str, request_id: &Bytes, body: &str, simple: bool) {
        let mut frames = vec![request_id.clone(), Bytes::new(), b(body)];
        if simple {
            frames.insert(0, Bytes::new());
        }
        self.broker.handle_backend(self.at(ms), b(w), frames);
    }

    fn timeout(&mut self, ms: u64) {
        self.broker.handle_timeout(self.at(ms));
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.broker.poll_output()).collect()
    }

    /// Drains outputs and returns the requests dispatched as
    /// `(worker, request-id frame, body)`, ignoring heartbeats.
    fn dispatched(&mut self) -> Vec<(String, Bytes, String)> {
        self.drain()
            .into_iter()
            .filter(|o| o.side == Side::Backend && o.frames.len() > 2)
            .map(|o| {
                let f = &o.frames;
                let skip = usize::from(f[1].is_empty()); // REQ delimiter
                (
                    String::from_utf8_lossy(&f[0]).into_owned(),
                    f[1 + skip].clone(),
                    String::from_utf8_lossy(f.last().unwrap()).into_owned(),
                )
            })
            .collect()
    }
}

fn to_client(o: &Output) -> (String, Vec<Bytes>) {
    assert_eq!(o.side, Side::Frontend);
    assert!(o.frames[1].is_empty(), "REQ delimiter");
    (
        String::from_utf8_lossy(&o.frames[0]).into_owned(),
        o.frames[2..].to_vec(),
    )
}

#[test]
fn dispatches_only_to_idle_workers() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "a");
    h.request(2, "c2", "b");
    let d = h.dispatched();
    assert_eq!(d.len(), 1, "one worker, one request in flight");
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w1", "a"));
    assert_eq!(h.broker.queued(), 1);
    h.reply(3, "w1", &d[0].1, "A", false);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("A")]));
    assert_eq!(out[1].frames[0], b("w1"));
    assert_eq!(out[1].frames.last().unwrap(), &b("b"));
}

#[test]
fn idle_workers_are_used_least_recently_used_first() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.ppp_ready(1, "w2");
    h.request(2, "c1", "a");
    h.request(3, "c2", "b");
    let d = h.dispatched();
    assert_eq!(d[0].0, "w1");
    assert_eq!(d[1].0, "w2");
    h.reply(4, "w2", &d[1].1, "B", false);
    h.reply(5, "w1", &d[0].1, "A", false);
    h.drain();
    h.request(6, "c3", "c");
    assert_eq!(h.dispatched()[0].0, "w2", "w2 has been idle longest");
}

#[test]
fn heartbeats_go_to_paranoid_workers_only() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "ppp");
    h.sp_ready(0, "sp");
    assert_eq!(h.broker.poll_timeout(), Some(h.at(1000)));
    h.timeout(999);
    assert!(h.drain().is_empty());
    h.timeout(1000);
    let out = h.drain();
    assert_eq!(
        out,
        vec![Output {
            side: Side::Backend,
            frames: vec![b("ppp"), Bytes::from_static(&[0x02])]
        }]
    );
    assert_eq!(h.broker.stats().heartbeats_sent, 1);
}

#[test]
fn a_worker_given_a_request_within_half_an_interval_gets_no_heartbeat() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.ppp_ready(0, "w2");
    h.ppp_ready(0, "w3");
    // w1 is given a request early in the interval, w2 late in it.
    for (ms, client) in [(100, "c1"), (600, "c2")] {
        h.request(ms, client, "job");
        let d = h.dispatched();
        h.reply(ms + 1, &d[0].0, &d[0].1, "done", false);
        h.drain();
    }
    let heartbeats_to = |h: &mut Harness, ms: u64| -> Vec<Bytes> {
        h.timeout(ms);
        h.drain().into_iter().map(|o| o.frames[0].clone()).collect()
    };
    assert_eq!(
        heartbeats_to(&mut h, 1000),
        [b("w1"), b("w3")],
        "the request 400 ms ago told w2"
    );
    for w in ["w1", "w2", "w3"] {
        h.ppp_heartbeat(1001, w);
    }
    assert_eq!(heartbeats_to(&mut h, 2000), [b("w1"), b("w2"), b("w3")]);
    assert_eq!(h.broker.stats().heartbeats_sent, 5);
}

#[test]
fn silent_paranoid_worker_expires_and_its_request_is_redispatched() {
    let mut h = Harness::new(BrokerConfig {
        attempt_timeout: Some(Duration::from_secs(60)),
        ..config()
    });
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "job");
    assert_eq!(h.dispatched()[0].0, "w1");
    h.ppp_ready(2, "w2");
    for t in [1000, 2000] {
        h.ppp_heartbeat(t, "w2");
        h.timeout(t);
    }
    h.ppp_heartbeat(2999, "w2");
    h.timeout(3000);
    assert_eq!(h.broker.stats().workers_expired, 1);
    assert_eq!(h.broker.worker_count(), 1);
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w2", "job"));
    assert_eq!(h.broker.stats().retried, 1);
}

#[test]
fn worker_heartbeats_keep_it_alive() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    for t in (1000..=10_000).step_by(1000) {
        h.ppp_heartbeat(t - 1, "w1");
        h.timeout(t);
    }
    assert_eq!(h.broker.worker_count(), 1);
    assert_eq!(h.broker.stats().workers_expired, 0);
}

#[test]
fn timed_out_attempt_goes_to_another_worker() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.ppp_ready(0, "w2");
    h.request(1, "c1", "job");
    assert_eq!(h.dispatched()[0].0, "w1");
    h.timeout(500);
    assert!(h.dispatched().is_empty(), "not before the timeout");
    h.timeout(501);
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w2", "job"));
    assert_eq!(h.broker.stats().attempt_timeouts, 1);
}

#[test]
fn failure_reply_after_exactly_max_attempts() {
    let mut h = Harness::new(config());
    for w in ["w1", "w2", "w3", "w4"] {
        h.ppp_ready(0, w);
    }
    h.request(1, "c1", "doomed");
    let mut attempts = h.dispatched().len();
    let mut failure = None;
    for step in 1..=10u64 {
        // Each worker says it is alive again right after its timeout.
        h.timeout(1 + step * 501);
        for w in ["w1", "w2", "w3", "w4"] {
            h.ppp_heartbeat(1 + step * 501, w);
        }
        for o in h.drain() {
            match o.side {
                Side::Backend if o.frames.len() > 2 => attempts += 1,
                Side::Frontend => failure = Some(to_client(&o)),
                Side::Backend | Side::Fetch => {}
            }
        }
    }
    assert_eq!(attempts, 3);
    assert_eq!(failure, Some(("c1".into(), vec![Bytes::new()])));
    let s = h.broker.stats();
    assert_eq!((s.failed, s.attempts_exhausted, s.retried), (1, 1, 2));
    assert_eq!(h.broker.outstanding(), 0);
}

#[test]
fn failed_attempt_goes_back_to_the_head_of_the_queue() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "first");
    h.request(2, "c2", "second");
    assert_eq!(h.dispatched()[0].2, "first");
    h.timeout(600); // w1 now suspect; "first" requeued at the head
    assert!(h.dispatched().is_empty());
    h.ppp_ready(700, "w2");
    assert_eq!(h.dispatched()[0].2, "first");
}

#[test]
fn suspect_worker_gets_no_work_until_it_shows_life() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "a");
    h.dispatched();
    h.timeout(600);
    h.request(700, "c2", "b");
    assert!(h.dispatched().is_empty(), "w1 is suspect");
    h.ppp_heartbeat(800, "w1");
    let d = h.dispatched();
    assert_eq!(d[0].0, "w1");
    assert_eq!(d[0].2, "a", "the requeued request first");
}

#[test]
fn late_reply_is_accepted_first_reply_wins_and_later_ones_are_counted() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.ppp_ready(0, "w2");
    h.request(1, "c1", "job");
    let first = h.dispatched().remove(0);
    h.timeout(600);
    let second = h.dispatched().remove(0);
    assert_eq!(second.0, "w2");
    assert_eq!(first.1, second.1, "same request id across attempts");
    h.reply(700, "w1", &first.1, "late", false);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("late")]));
    h.reply(800, "w2", &second.1, "second", false);
    assert!(h.drain().iter().all(|o| o.side == Side::Backend));
    let s = h.broker.stats();
    assert_eq!((s.answered, s.late_replies, s.duplicate_replies), (1, 1, 1));
}

#[test]
fn late_reply_completes_a_request_waiting_in_the_queue() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "job");
    let first = h.dispatched().remove(0);
    h.timeout(600); // requeued, no idle worker
    assert_eq!(h.broker.queued(), 1);
    h.reply(700, "w1", &first.1, "done", false);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("done")]));
    assert_eq!((h.broker.queued(), h.broker.outstanding()), (0, 0));
    h.request(800, "c2", "next");
    assert_eq!(
        h.dispatched()[0].2,
        "next",
        "the stale queue entry is skipped"
    );
}

#[test]
fn queue_bound_gives_the_failure_reply_at_once() {
    let mut h = Harness::new(BrokerConfig {
        queue_limit: 2,
        ..config()
    });
    h.request(0, "c1", "a");
    h.request(0, "c2", "b");
    assert!(h.drain().is_empty());
    h.request(0, "c3", "c");
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c3".into(), vec![Bytes::new()]));
    assert_eq!(h.broker.stats().rejected_queue_full, 1);
    assert_eq!(h.broker.queued(), 2);
}

#[test]
fn a_client_over_its_limit_gets_the_failure_reply_at_once_and_others_are_served() {
    let mut h = Harness::new(BrokerConfig {
        client_limit: Some(2),
        ..config()
    });
    h.request(0, "c1", "a");
    h.request(1, "c1", "b");
    h.request(2, "c1", "c");
    h.request(3, "c2", "d");
    let out = h.drain();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![Bytes::new()]));
    assert_eq!(h.broker.stats().rejected_client_limit, 1);
    assert_eq!(h.broker.queued(), 3, "c1's two and c2's one wait");
    // Once one of c1's requests ends, c1 may send another.
    h.ppp_ready(4, "w1");
    let d = h.dispatched();
    h.reply(5, "w1", &d[0].1, "A", false);
    h.drain();
    h.request(6, "c1", "e");
    assert_eq!(h.broker.stats().rejected_client_limit, 1);
    assert_eq!(h.broker.outstanding(), 3);
}

#[test]
fn a_late_reply_frees_the_worker_that_holds_the_retry() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "a");
    let first = h.dispatched();
    h.ppp_ready(2, "w2");
    h.ppp_heartbeat(499, "w1");
    h.timeout(501); // attempt 1 at w1 times out; the retry goes to w2
    let retry = h.dispatched();
    assert_eq!(retry[0].0, "w2");
    assert_eq!((h.broker.in_flight(), h.broker.attempts_held()), (1, 1));
    // w1 answers late; w2 (which will never answer) holds nothing now.
    h.reply(600, "w1", &first[0].1, "A", false);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("A")]));
    assert_eq!((h.broker.in_flight(), h.broker.attempts_held()), (0, 0));
    // After its next sign of life w2 takes new work again.
    h.ppp_heartbeat(700, "w2");
    h.request(701, "c2", "b");
    let d = h.dispatched();
    assert_eq!(d.len(), 1, "{d:?}");
}

#[test]
fn request_no_worker_takes_fails_at_the_wait_limit() {
    let mut h = Harness::new(config());
    h.request(0, "c1", "a");
    h.timeout(9_999);
    assert!(h.drain().iter().all(|o| o.side == Side::Backend));
    h.timeout(10_000);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![Bytes::new()]));
    assert_eq!(h.broker.stats().wait_expired, 1);
    assert_eq!(h.broker.outstanding(), 0);
}

#[test]
fn wait_limit_restarts_when_a_request_is_requeued() {
    let mut h = Harness::new(config());
    h.request(0, "c1", "a");
    h.ppp_ready(9_000, "w1");
    h.dispatched();
    for t in [10_000, 11_000, 12_000] {
        h.ppp_heartbeat(t - 1, "w1");
        h.timeout(t);
    }
    assert_eq!(
        h.broker.stats().wait_expired,
        0,
        "in flight at the old deadline"
    );
    assert_eq!(h.broker.outstanding(), 1);
}

#[test]
fn simple_worker_is_forgotten_after_a_timeout_and_returns_with_a_late_reply() {
    let mut h = Harness::new(config());
    h.sp_ready(0, "sp");
    h.request(1, "c1", "a");
    let d = h.dispatched();
    assert_eq!(d[0].0, "sp");
    h.timeout(600);
    assert_eq!(h.broker.worker_count(), 0);
    h.reply(700, "sp", &d[0].1, "A", true);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("A")]));
    assert_eq!(h.broker.worker_count(), 1, "a REQ reply means ready again");
    h.request(800, "c2", "b");
    let d = h.dispatched();
    assert_eq!(d[0].0, "sp");
}

#[test]
fn simple_worker_frames_carry_the_req_delimiter() {
    let mut h = Harness::new(config());
    h.sp_ready(0, "sp");
    h.request(1, "c1", "a");
    let out = h.drain();
    assert_eq!(out[0].frames.len(), 5);
    assert_eq!(out[0].frames[0], b("sp"));
    assert!(out[0].frames[1].is_empty());
    assert!(out[0].frames[3].is_empty());
}

#[test]
fn malformed_messages_are_counted_and_the_broker_keeps_serving() {
    let mut h = Harness::new(config());
    h.broker
        .handle_frontend(h.at(0), b("c0"), vec![b("no delimiter")]);
    h.broker.handle_frontend(h.at(0), b("c0"), vec![]);
    h.broker.handle_backend(h.at(0), b("w0"), vec![b("\x09")]);
    h.broker
        .handle_backend(h.at(0), b("w0"), vec![b("x"), b("y")]);
    h.reply(0, "w0", &b("not-an-id"), "x", false);
    let s = h.broker.stats().clone();
    assert_eq!(
        (s.malformed_frontend, s.malformed_backend, s.unknown_replies),
        (2, 2, 1)
    );
    assert!(h.drain().is_empty());
    // The well-formed (if unknown) reply registered w0 as a ready worker,
    // as ppqueue treats any worker message as a sign of readiness.
    assert_eq!(h.broker.worker_count(), 1);
    h.request(2, "c1", "still works");
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w0", "still works"));
    h.reply(3, "w0", &d[0].1, "yes", false);
    assert_eq!(to_client(&h.drain()[0]), ("c1".into(), vec![b("yes")]));
}

#[test]
fn unroutable_worker_is_forgotten_and_its_request_redispatched() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "a");
    h.dispatched();
    h.ppp_ready(2, "w2");
    h.broker.handle_unroutable(h.at(3), Side::Backend, b"w1");
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w2", "a"));
    assert_eq!(h.broker.stats().workers_lost, 1);
}

#[test]
fn unroutable_client_reply_is_counted() {
    let mut h = Harness::new(config());
    h.broker.handle_unroutable(h.at(0), Side::Frontend, b"gone");
    assert_eq!(h.broker.stats().client_gone, 1);
}

#[test]
fn ready_from_a_busy_worker_means_it_restarted() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.request(1, "c1", "a");
    h.dispatched();
    h.ppp_ready(2, "w1");
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w1", "a"));
    assert_eq!(h.broker.stats().retried, 1);
}

#[test]
fn client_envelope_is_kept_for_the_reply() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.broker.handle_frontend(
        h.at(1),
        b("dealer"),
        vec![b("hop1"), b("hop2"), Bytes::new(), b("x")],
    );
    let d = h.dispatched();
    h.reply(2, "w1", &d[0].1, "y", false);
    let out = h.drain();
    assert_eq!(
        out[0].frames,
        vec![b("dealer"), b("hop1"), b("hop2"), Bytes::new(), b("y")]
    );
}

#[test]
fn poll_timeout_is_the_earliest_deadline() {
    let mut h = Harness::new(config());
    assert_eq!(h.broker.poll_timeout(), Some(h.at(1000)));
    h.ppp_ready(0, "w1");
    h.request(100, "c1", "a");
    assert_eq!(h.broker.poll_timeout(), Some(h.at(600)));
}

#[path = "broker_mdp_tests.rs"]
mod mdp;

#[path = "broker_fetch_tests.rs"]
mod fetch;

fn ready_with_credit(h: &mut Harness, ms: u64, w: &str, credit: u32) {
    let frames = vec![Bytes::from_static(&[0x01]), b(&credit.to_string())];
    h.broker.handle_backend(h.at(ms), b(w), frames);
}

#[test]
fn a_worker_with_credit_holds_that_many_requests_and_no_more() {
    let mut h = Harness::new(config());
    ready_with_credit(&mut h, 0, "w1", 3);
    for c in ["c1", "c2", "c3", "c4"] {
        h.request(1, c, c);
    }
    let d = h.dispatched();
    assert_eq!(d.len(), 3, "credit 3");
    assert_eq!(h.broker.queued(), 1);
    h.reply(2, "w1", &d[1].1, "c2", false);
    let next = h.dispatched();
    assert_eq!((next[0].0.as_str(), next[0].2.as_str()), ("w1", "c4"));
}

#[test]
fn a_reply_frees_a_credit_but_does_not_make_the_worker_the_most_recently_used() {
    let mut h = Harness::new(config());
    ready_with_credit(&mut h, 0, "w1", 2);
    ready_with_credit(&mut h, 0, "w2", 2);
    h.request(1, "a", "a");
    h.request(1, "b", "b");
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[1].0.as_str()), ("w1", "w2"));
    let idle_entries = |h: &Harness| {
        h.broker
            .services
            .at(h.broker.default_service)
            .idle_entries()
    };
    let entries = idle_entries(&h);
    // w1 answers; it still had a credit left, so it keeps its entry ahead
    // of w2's: it was given work before w2 was.
    h.reply(2, "w1", &d[0].1, "a", false);
    assert_eq!(
        idle_entries(&h),
        entries,
        "no new entry for a worker that has one"
    );
    h.request(3, "c", "c");
    let next = h.dispatched();
    assert_eq!(next[0].0, "w1");
    // Workers whose credit is used up get an entry back with a reply,
    // in the order the replies come.
    h.request(4, "d", "d");
    h.request(4, "e", "e");
    let full = h.dispatched();
    assert_eq!((full[0].0.as_str(), full[1].0.as_str()), ("w2", "w1"));
    h.request(5, "f", "f");
    assert!(h.dispatched().is_empty(), "both are full");
    h.reply(6, "w2", &d[1].1, "b", false);
    h.reply(6, "w1", &next[0].1, "c", false);
    let last = h.dispatched();
    assert_eq!(last[0].0, "w2", "f waited; w2 had a credit first");
    h.request(7, "g", "g");
    assert_eq!(h.dispatched()[0].0, "w1");
}

#[test]
fn workers_with_credit_take_turns_least_recently_used_first() {
    let mut h = Harness::new(config());
    ready_with_credit(&mut h, 0, "w1", 2);
    ready_with_credit(&mut h, 0, "w2", 2);
    for c in ["a", "b", "c", "d"] {
        h.request(1, c, c);
    }
    let to: Vec<String> = h.dispatched().into_iter().map(|d| d.0).collect();
    assert_eq!(to, ["w1", "w2", "w1", "w2"]);
}

#[test]
fn with_a_batch_requests_arriving_together_go_to_one_worker_up_to_the_batch() {
    let mut h = Harness::new(BrokerConfig {
        batch: 3,
        ..config()
    });
    for w in ["w1", "w2", "w3"] {
        ready_with_credit(&mut h, 0, w, 10);
    }
    // One turn: seven requests before the outputs are drained.
    for c in ["a", "b", "c", "d", "e", "f", "g"] {
        h.request(1, c, c);
    }
    let to: Vec<String> = h.dispatched().into_iter().map(|d| d.0).collect();
    assert_eq!(to, ["w1", "w1", "w1", "w2", "w2", "w2", "w3"]);
    // The turn ended with the drain: w3, held with credit and one
    // request, went back as the most recently used, so the next turn
    // starts with w1.
    h.request(2, "h", "h");
    h.request(2, "i", "i");
    let to: Vec<String> = h.dispatched().into_iter().map(|d| d.0).collect();
    assert_eq!(to, ["w1", "w1"]);
    h.request(3, "j", "j");
    let to: Vec<String> = h.dispatched().into_iter().map(|d| d.0).collect();
    assert_eq!(to, ["w2"], "w1 was used last turn");
}

#[test]
fn a_batch_never_exceeds_a_workers_credit_and_skips_a_worker_that_left() {
    let mut h = Harness::new(BrokerConfig {
        batch: 64,
        ..config()
    });
    ready_with_credit(&mut h, 0, "w1", 2);
    ready_with_credit(&mut h, 0, "w2", 5);
    for c in ["a", "b", "c"] {
        h.request(1, c, c);
    }
    // w2 is held for the rest of the turn; it leaves within the turn.
    h.broker.handle_unroutable(h.at(1), Side::Backend, b"w2");
    h.ppp_ready(1, "w3");
    h.request(1, "d", "d");
    let d = h.dispatched();
    let to: Vec<(&str, &str)> = d.iter().map(|d| (d.0.as_str(), d.2.as_str())).collect();
    assert_eq!(
        to,
        [
            ("w1", "a"),
            ("w1", "b"),
            ("w2", "c"),
            // w2's attempt failed: its request went back to the head of
            // the queue and to w3 as soon as w3 came.
            ("w3", "c"),
        ],
        "w1 stops at its credit of 2"
    );
    assert_eq!(h.broker.queued(), 1, "d waits: w1 is full, w3 busy");
    assert_eq!(h.broker.attempts_held(), h.broker.in_flight());
}

#[test]
fn losing_a_worker_with_credit_fails_every_attempt_it_held() {
    let mut h = Harness::new(config());
    ready_with_credit(&mut h, 0, "w1", 2);
    h.request(1, "c1", "one");
    h.request(1, "c2", "two");
    assert_eq!(h.dispatched().len(), 2);
    h.broker.handle_unroutable(h.at(2), Side::Backend, b"w1");
    assert_eq!(h.broker.stats().retried, 2);
    assert_eq!(h.broker.queued(), 2);
    h.ppp_ready(3, "w2");
    assert_eq!(h.dispatched()[0].2, "one", "requeued at the head, in order");
}

#[test]
fn a_dispatch_that_cannot_be_sent_does_not_use_up_an_attempt() {
    let mut h = Harness::new(BrokerConfig {
        max_attempts: Some(1),
        ..config()
    });
    h.ppp_ready(0, "gone");
    h.request(1, "c1", "job");
    let out = h.drain();
    assert_eq!(out[0].frames[0], "gone");
    // The adapter could not send it: the worker had vanished.
    h.broker
        .handle_undeliverable(h.at(2), Side::Backend, &out[0].frames);
    assert_eq!(h.broker.stats().undelivered, 1);
    assert_eq!(h.broker.stats().failed, 0, "one attempt allowed, none used");
    h.ppp_ready(300, "w2");
    let d = h.dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w2", "job"));
    // The unsent dispatch's deadline (at 501 ms) must not end the attempt
    // at w2, which has until 800 ms (found by the simulation).
    h.ppp_heartbeat(500, "w2");
    h.timeout(600);
    assert_eq!(h.broker.stats().attempt_timeouts, 0);
    h.reply(700, "w2", &d[0].1, "done", false);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("done")]));
}

#[test]
fn draining_fails_queued_and_new_requests_lets_in_flight_ones_finish_then_fails_the_rest() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "w1");
    h.ppp_ready(0, "w2");
    h.request(1, "c1", "a");
    h.request(1, "c2", "b");
    h.request(1, "c3", "queued");
    let d = h.dispatched();
    assert_eq!(d.len(), 2);
    h.broker.drain(h.at(2));
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(to_client(&out[0]), ("c3".into(), vec![Bytes::new()]));
    h.request(3, "c4", "late");
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c4".into(), vec![Bytes::new()]));
    // An attempt in flight finishes normally.
    h.reply(4, "w1", &d[0].1, "A", false);
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c1".into(), vec![b("A")]));
    assert!(
        out.iter().all(|o| o.side == Side::Frontend),
        "no new dispatch"
    );
    // The grace period ends with one still in flight.
    h.broker.finish(h.at(5));
    let out = h.drain();
    assert_eq!(to_client(&out[0]), ("c2".into(), vec![Bytes::new()]));
    assert_eq!(h.broker.outstanding(), 0);
    assert_eq!(h.broker.stats().shutdown_failed, 3);
    assert_eq!(h.broker.attempts_held(), 0);
}

#[test]
fn requests_keep_the_frames_they_came_in_and_service_names_are_the_brokers_own() {
    use corsair_proto::arena::Arena;
    let mut h = Harness::new(config());
    // Frames as the native engine takes them in: slices of one chunk.
    let mut arena = Arena::new();
    let mdp = |arena: &mut Arena, tag: &str, body: &str| {
        vec![
            arena.copy(tag.as_bytes()),
            Bytes::new(),
            Bytes::from_static(b"MDPC01"),
            arena.copy(b"echo"),
            arena.copy(body.as_bytes()),
        ]
    };
    // An MDP/0.1 worker's message: command, then the frames after it.
    let worker = |command: u8, rest: Vec<Bytes>| {
        let mut frames = vec![
            Bytes::new(),
            Bytes::from_static(b"MDPW01"),
            Bytes::copy_from_slice(&[command]),
        ];
        frames.extend(rest);
        frames
    };
    let ready = worker(0x01, vec![arena.copy(b"echo")]);
    h.broker.handle_backend(h.at(0), b("m1"), ready);
    let first = mdp(&mut arena, "t1", "at once");
    let (tag, service, body) = (first[0].clone(), first[3].clone(), first[4].clone());
    h.broker.handle_frontend(h.at(1), b("c1"), first);
    let out = h.drain();
    let dispatched = out[0].frames.last().unwrap();
    assert_eq!(dispatched.as_ptr(), body.as_ptr(), "the body is not copied");
    let address = out[0].frames[4].clone();
    // The second request waits (m1 is busy), still in the frames it
    // came in.
    let second = mdp(&mut arena, "t2", "waits");
    let (tag2, body2) = (second[0].clone(), second[4].clone());
    h.broker.handle_frontend(h.at(2), b("c2"), second);
    assert_eq!(h.broker.queued(), 1);
    let reply = worker(0x03, vec![address, Bytes::new(), b("done")]);
    h.broker.handle_backend(h.at(3), b("m1"), reply);
    let out = h.drain();
    let to_c1 = out.iter().find(|o| o.side == Side::Frontend).unwrap();
    assert_eq!(
        to_c1.frames[1].as_ptr(),
        tag.as_ptr(),
        "the envelope is not copied"
    );
    assert_eq!(to_c1.frames[4], service);
    let to_m1 = out.iter().find(|o| o.side == Side::Backend).unwrap();
    let dispatched = to_m1.frames.last().unwrap();
    assert_eq!(dispatched, &body2);
    assert_eq!(
        dispatched.as_ptr(),
        body2.as_ptr(),
        "the waiting body is not copied"
    );
    let address = to_m1.frames[4].clone();
    let reply = worker(0x03, vec![address, Bytes::new(), b("done")]);
    h.broker.handle_backend(h.at(4), b("m1"), reply);
    let out = h.drain();
    assert_eq!(out[0].frames[1], tag2);
    assert_eq!(out[0].frames[1].as_ptr(), tag2.as_ptr());
    // The service name in replies is the broker's own copy, made when
    // the worker registered, so requests keep no chunk alive with it.
    assert_eq!(out[0].frames[4], service);
    assert_ne!(out[0].frames[4].as_ptr(), service.as_ptr());
}
