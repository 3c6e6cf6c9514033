//! Unit tests of the classic fetch-worker protocol: asks on the fetch
//! socket, tasks as replies, answers on the PULL socket without a sender.

use super::*;

impl Harness {
    fn ask(&mut self, ms: u64, w: &str) {
        let frames = vec![Bytes::new(), b("ready")];
        self.broker
            .handle_message(self.at(ms), Side::Fetch, b(w), frames);
    }

    fn answer(&mut self, ms: u64, id: &Bytes, body: &str) {
        self.broker
            .handle_answer(self.at(ms), vec![id.clone(), b(body)]);
    }

    /// Drains outputs: tasks sent to fetch workers as `(worker, task id,
    /// body)`.
    fn tasks(&mut self) -> Vec<(String, Bytes, String)> {
        self.drain()
            .into_iter()
            .filter(|o| o.side == Side::Fetch)
            .map(|o| {
                assert!(o.frames[1].is_empty(), "REQ delimiter");
                (
                    String::from_utf8_lossy(&o.frames[0]).into_owned(),
                    o.frames[2].clone(),
                    String::from_utf8_lossy(&o.frames[3]).into_owned(),
                )
            })
            .collect()
    }
}

fn classic(tries: Option<u32>, timeout_ms: Option<u64>) -> BrokerConfig {
    BrokerConfig {
        max_attempts: tries,
        attempt_timeout: timeout_ms.map(Duration::from_millis),
        wait_limit: None,
        ..config()
    }
}

#[test]
fn tasks_go_only_to_workers_that_asked_and_answers_reach_the_client() {
    let mut h = Harness::new(classic(Some(3), Some(500)));
    h.request(0, "c1", "one");
    h.request(0, "c2", "two");
    assert!(h.tasks().is_empty(), "nobody asked");
    h.ask(1, "f1");
    let t = h.tasks();
    assert_eq!((t[0].0.as_str(), t[0].2.as_str()), ("f1", "one"));
    h.answer(2, &t[0].1, "ONE");
    assert_eq!(h.drain()[0].frames, vec![b("c1"), Bytes::new(), b("ONE")]);
    // f1 gets nothing more until it asks again.
    assert!(h.tasks().is_empty());
    h.ask(3, "f1");
    assert_eq!(h.tasks()[0].2, "two");
}

#[test]
fn a_late_answer_is_taken_while_the_retry_is_out() {
    let mut h = Harness::new(classic(Some(3), Some(500)));
    h.ask(0, "slow");
    h.ask(0, "dropper");
    h.request(1, "c1", "job");
    let first = h.tasks().remove(0);
    assert_eq!(first.0, "slow");
    h.timeout(501);
    let retry = h.tasks().remove(0);
    assert_eq!(
        (retry.0.as_str(), &retry.1),
        ("dropper", &first.1),
        "same task id"
    );
    // Answers carry no sender: the broker cannot tell the late answer
    // from the retry's, and needs not to; the first one wins.
    h.answer(700, &first.1, "late but good");
    assert_eq!(h.drain()[0].frames[2], "late but good");
    assert_eq!(h.broker.stats().answered, 1);
    h.answer(800, &first.1, "second");
    assert_eq!(h.broker.stats().duplicate_replies, 1);
    h.answer(800, &b("bad-id"), "x");
    assert_eq!(h.broker.stats().unknown_replies, 1);
    h.broker.handle_answer(h.at(800), vec![first.1.clone()]);
    assert_eq!(h.broker.stats().malformed_backend, 1);
    assert!(h.drain().is_empty());
}

#[test]
fn one_try_and_a_dropping_worker_gives_the_failure_reply() {
    let mut h = Harness::new(classic(Some(1), Some(500)));
    h.ask(0, "f1");
    h.request(1, "c1", "job");
    h.tasks();
    h.ask(2, "f1"); // dropped it and asks again: the attempt stays open
    assert!(h.drain().is_empty());
    // The worker's hold is given up but the attempt is still in flight
    // (found by the `broker` fuzz target: held <= in flight, not ==).
    assert_eq!(h.broker.in_flight(), 1);
    assert_eq!(h.broker.attempts_held(), 0);
    h.timeout(501);
    let out = h.drain();
    assert_eq!(out[0].frames, vec![b("c1"), Bytes::new(), Bytes::new()]);
    assert_eq!(h.broker.stats().attempts_exhausted, 1);
}

#[test]
fn without_a_timeout_an_attempt_waits_for_its_answer() {
    let mut h = Harness::new(classic(None, None));
    h.ask(0, "f1");
    h.request(1, "c1", "job");
    let t = h.tasks().remove(0);
    h.timeout(3_600_000);
    assert!(h.drain().iter().all(|o| o.side != Side::Frontend));
    assert_eq!(h.broker.outstanding(), 1);
    h.answer(3_600_001, &t.1, "finally");
    assert_eq!(h.drain()[0].frames[2], "finally");
}

#[test]
fn unlimited_tries_keep_retrying() {
    let mut h = Harness::new(classic(None, Some(100)));
    h.ask(0, "f1");
    h.request(0, "c1", "job");
    for round in 1..=20u64 {
        assert_eq!(h.tasks().len(), 1, "round {round}");
        h.ask(round * 100, "f1"); // dropped; asks again
        h.timeout(round * 100 + 1);
    }
    assert_eq!(h.broker.stats().failed, 0);
    assert_eq!(h.broker.stats().retried, 20);
}

#[test]
fn fetch_pirate_and_majordomo_workers_share_the_default_service() {
    let mut h = Harness::new(config());
    h.ask(0, "fetch");
    h.ppp_ready(1, "ppp");
    let ready = vec![
        Bytes::new(),
        b("MDPW01"),
        Bytes::from_static(&[1]),
        b("default"),
    ];
    h.broker.handle_backend(h.at(2), b("mdp"), ready);
    for (i, c) in ["c1", "c2", "c3"].iter().enumerate() {
        h.request(3 + i as u64, c, c);
    }
    let out = h.drain();
    let to: Vec<_> = out.iter().map(|o| (o.side, o.frames[0].clone())).collect();
    assert_eq!(
        to,
        vec![
            (Side::Fetch, b("fetch")),
            (Side::Backend, b("ppp")),
            (Side::Backend, b("mdp"))
        ]
    );
}
