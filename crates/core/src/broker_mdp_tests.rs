//! Unit tests of the Majordomo rules (7/MDP, 18/MDP, 8/MMI) and of
//! dialects mixing in one broker, with virtual time and no sockets.

use super::*;

const W01: &str = "MDPW01";
const W02: &str = "MDPW02";

fn byte(x: u8) -> Bytes {
    Bytes::copy_from_slice(&[x])
}

fn f(parts: &[&str]) -> Vec<Bytes> {
    parts.iter().map(|p| b(p)).collect()
}

impl Harness {
    fn mdp1_ready(&mut self, ms: u64, side: Side, w: &str, service: &str) {
        let frames = vec![Bytes::new(), b(W01), byte(1), b(service)];
        self.broker.handle_message(self.at(ms), side, b(w), frames);
    }

    fn mdp2_ready(&mut self, ms: u64, w: &str, service: &str) {
        let frames = vec![b(W02), byte(1), b(service)];
        self.broker.handle_backend(self.at(ms), b(w), frames);
    }

    fn mdp1_heartbeat(&mut self, ms: u64, w: &str) {
        let frames = vec![Bytes::new(), b(W01), byte(4)];
        self.broker.handle_backend(self.at(ms), b(w), frames);
    }

    /// A 0.1 worker's REPLY (`cmd = 3`) or a 0.2 worker's PARTIAL (3) or
    /// FINAL (4).
    fn mdp_reply(&mut self, ms: u64, v2: bool, cmd: u8, w: &str, id: &Bytes, body: &str) {
        let mut frames = if v2 {
            vec![b(W02)]
        } else {
            vec![Bytes::new(), b(W01)]
        };
        frames.extend([byte(cmd), id.clone(), Bytes::new(), b(body)]);
        self.broker.handle_backend(self.at(ms), b(w), frames);
    }

    fn mdp1_request(&mut self, ms: u64, client: &str, service: &str, body: &str) {
        let frames = vec![Bytes::new(), b("MDPC01"), b(service), b(body)];
        self.broker.handle_frontend(self.at(ms), b(client), frames);
    }

    fn mdp2_request(&mut self, ms: u64, client: &str, service: &str, body: &str) {
        let frames = vec![b("MDPC02"), byte(1), b(service), b(body)];
        self.broker.handle_frontend(self.at(ms), b(client), frames);
    }

    /// Drains outputs: the MDP requests sent to workers as
    /// `(worker, address frame, body)`.
    fn mdp_dispatched(&mut self) -> Vec<(String, Bytes, String)> {
        self.drain()
            .into_iter()
            .filter_map(|o| {
                let fr = &o.frames;
                let at = fr.iter().position(|x| x == W01 || x == W02)?;
                (fr[at + 1] == byte(2)).then(|| {
                    (
                        String::from_utf8_lossy(&fr[0]).into_owned(),
                        fr[at + 2].clone(),
                        String::from_utf8_lossy(fr.last().unwrap()).into_owned(),
                    )
                })
            })
            .collect()
    }
}

fn disconnect_to(out: &[Output], w: &str) -> bool {
    out.iter().any(|o| {
        o.frames[0] == w
            && (o.frames[1..] == [Bytes::new(), b(W01), byte(5)]
                || o.frames[1..] == [b(W02), byte(6)])
    })
}

#[test]
fn mdp01_request_reply_round_trip() {
    let mut h = Harness::new(config());
    h.mdp1_ready(0, Side::Backend, "w1", "echo");
    h.mdp1_request(1, "c1", "echo", "hello");
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].side, Side::Backend);
    let fr = &out[0].frames;
    assert_eq!(fr[..4], [b("w1"), Bytes::new(), b(W01), byte(2)]);
    assert_eq!(fr[5..], [Bytes::new(), b("hello")]);
    let id = fr[4].clone();
    h.mdp_reply(2, false, 3, "w1", &id, "world");
    let out = h.drain();
    assert_eq!(
        out,
        vec![Output {
            side: Side::Frontend,
            frames: f(&["c1", "", "MDPC01", "echo", "world"])
        }]
    );
    assert_eq!(h.broker.stats().answered, 1);
}

#[test]
fn mdp02_partials_stream_to_an_mdp02_client() {
    let mut h = Harness::new(config());
    h.mdp2_ready(0, "w1", "stream");
    h.mdp2_request(1, "c1", "stream", "go");
    let (_, id, body) = h.mdp_dispatched().remove(0);
    assert_eq!(body, "go");
    h.mdp_reply(2, true, 3, "w1", &id, "part-1");
    h.mdp_reply(3, true, 3, "w1", &id, "part-2");
    h.mdp_reply(4, true, 4, "w1", &id, "done");
    let frames: Vec<_> = h.drain().into_iter().map(|o| o.frames).collect();
    assert_eq!(
        frames,
        vec![
            vec![b("c1"), b("MDPC02"), byte(2), b("stream"), b("part-1")],
            vec![b("c1"), b("MDPC02"), byte(2), b("stream"), b("part-2")],
            vec![b("c1"), b("MDPC02"), byte(3), b("stream"), b("done")],
        ]
    );
}

#[test]
fn partials_are_gathered_for_a_client_that_takes_one_reply() {
    let mut h = Harness::new(config());
    h.mdp2_ready(0, "w1", "stream");
    h.mdp1_request(1, "c1", "stream", "go");
    let (_, id, _) = h.mdp_dispatched().remove(0);
    h.mdp_reply(2, true, 3, "w1", &id, "a");
    assert!(h.drain().is_empty(), "held, not sent");
    h.mdp_reply(3, true, 4, "w1", &id, "b");
    let out = h.drain();
    assert_eq!(out[0].frames, f(&["c1", "", "MDPC01", "stream", "a", "b"]));
}

#[test]
fn mmi_service_answers_200_404_and_501() {
    let mut h = Harness::new(config());
    h.mdp1_ready(0, Side::Backend, "w1", "echo");
    h.mdp1_request(1, "c1", "mmi.service", "echo");
    h.mdp1_request(1, "c1", "mmi.service", "nobody");
    h.mdp2_request(1, "c2", "mmi.stats", "echo");
    let frames: Vec<_> = h.drain().into_iter().map(|o| o.frames).collect();
    assert_eq!(
        frames,
        vec![
            f(&["c1", "", "MDPC01", "mmi.service", "200"]),
            f(&["c1", "", "MDPC01", "mmi.service", "404"]),
            vec![b("c2"), b("MDPC02"), byte(3), b("mmi.stats"), b("501")],
        ]
    );
    assert_eq!(h.broker.stats().mmi_requests, 3);
    assert_eq!(
        h.broker.stats().accepted,
        0,
        "MMI is not a request to a worker"
    );
}

#[test]
fn service_without_workers_fails_at_the_wait_limit_with_its_own_name() {
    let mut h = Harness::new(config());
    h.mdp1_request(0, "c1", "nobody", "hi");
    h.timeout(9_999);
    assert!(h.drain().is_empty());
    h.timeout(10_000);
    let out = h.drain();
    let fr = &out[0].frames;
    assert_eq!(fr[..4], f(&["c1", "", "MDPC01", "nobody"]));
    assert_eq!(
        corsair_proto::mdp::failure_reason(&fr[4..]).as_deref(),
        Some("no worker took the request within 10s")
    );
    assert_eq!(h.broker.stats().wait_expired, 1);
}

#[test]
fn failure_after_max_attempts_keeps_the_mdp_reply_shape() {
    let mut h = Harness::new(config());
    h.mdp1_ready(0, Side::Backend, "w1", "echo");
    h.mdp1_request(1, "c1", "echo", "x");
    for t in [501, 1002] {
        h.timeout(t);
        h.mdp1_heartbeat(t, "w1"); // suspect -> idle again
    }
    h.timeout(1503);
    let out: Vec<_> = h
        .drain()
        .into_iter()
        .filter(|o| o.side == Side::Frontend)
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].frames,
        f(&["c1", "", "MDPC01", "echo", "", "all 3 attempts failed"])
    );
}

#[test]
fn second_ready_is_a_protocol_error_and_the_request_moves_on() {
    let mut h = Harness::new(config());
    h.mdp1_ready(0, Side::Backend, "w1", "echo");
    h.mdp1_ready(0, Side::Backend, "w2", "echo");
    h.mdp1_request(1, "c1", "echo", "job");
    assert_eq!(h.mdp_dispatched()[0].0, "w1");
    h.mdp1_ready(2, Side::Backend, "w1", "echo");
    let out = h.drain();
    assert!(disconnect_to(&out, "w1"));
    assert_eq!(h.broker.stats().workers_refused, 1);
    assert_eq!(h.broker.worker_count(), 1);
    assert!(out
        .iter()
        .any(|o| o.frames[0] == "w2" && o.frames.last().unwrap() == "job"));
}

#[test]
fn reserved_and_unexpected_commands_get_disconnect() {
    let mut h = Harness::new(config());
    h.mdp2_ready(0, "w1", "mmi.service");
    assert!(disconnect_to(&h.drain(), "w1"));
    h.mdp1_heartbeat(0, "w2"); // before READY
    assert!(disconnect_to(&h.drain(), "w2"));
    h.mdp2_ready(0, "w3", "echo");
    let req = vec![b(W02), byte(2), b("addr"), Bytes::new(), b("x")];
    h.broker.handle_backend(h.at(1), b("w3"), req);
    assert!(disconnect_to(&h.drain(), "w3"));
    assert_eq!(h.broker.stats().workers_refused, 3);
    assert_eq!(h.broker.worker_count(), 0);
    assert!(!h.broker.has_workers(b"echo"));
}

#[test]
fn silent_mdp_worker_expires_after_liveness_intervals_and_its_request_moves_on() {
    let mut h = Harness::new(BrokerConfig {
        attempt_timeout: Some(Duration::from_secs(60)),
        ..config()
    });
    h.mdp1_ready(0, Side::Backend, "w1", "echo");
    h.mdp1_request(1, "c1", "echo", "job");
    assert_eq!(h.mdp_dispatched()[0].0, "w1");
    h.mdp1_ready(2, Side::Backend, "w2", "echo");
    for t in [2500, 5000] {
        h.mdp1_heartbeat(t, "w2");
        h.timeout(t);
    }
    // Broker heartbeats go to idle MDP workers only, not busy ones.
    let hb: Vec<_> = h.drain().into_iter().map(|o| o.frames[0].clone()).collect();
    assert_eq!(hb, vec![b("w2"), b("w2")]);
    h.mdp1_heartbeat(7499, "w2");
    h.timeout(7500);
    assert_eq!(h.broker.stats().workers_expired, 1);
    let d = h.mdp_dispatched();
    assert_eq!((d[0].0.as_str(), d[0].2.as_str()), ("w2", "job"));
}

#[test]
fn worker_disconnect_mid_request_redispatches() {
    let mut h = Harness::new(config());
    h.mdp2_ready(0, "w1", "echo");
    h.mdp2_ready(0, "w2", "echo");
    h.mdp2_request(1, "c1", "echo", "job");
    assert_eq!(h.mdp_dispatched()[0].0, "w1");
    h.broker
        .handle_backend(h.at(2), b("w1"), vec![b(W02), byte(6)]);
    assert_eq!(h.broker.stats().workers_disconnected, 1);
    assert_eq!(h.mdp_dispatched()[0].0, "w2");
}

#[test]
fn workers_on_the_clients_socket_are_answered_there() {
    let mut h = Harness::new(config());
    // Same identity on both sockets: two different peers.
    h.mdp1_ready(0, Side::Frontend, "x", "echo");
    h.mdp1_ready(0, Side::Backend, "x", "echo");
    assert_eq!(h.broker.worker_count(), 2);
    h.mdp1_request(1, "c1", "echo", "job");
    let out = h.drain();
    assert_eq!(out[0].side, Side::Frontend);
    let id = out[0].frames[4].clone();
    let reply = vec![Bytes::new(), b(W01), byte(3), id, Bytes::new(), b("done")];
    h.broker.handle_frontend(h.at(2), b("x"), reply);
    assert_eq!(
        h.drain()[0].frames,
        f(&["c1", "", "MDPC01", "echo", "done"])
    );
}

#[test]
fn a_streamed_request_is_not_retried() {
    let mut h = Harness::new(config());
    h.mdp2_ready(0, "w1", "s");
    h.mdp2_ready(0, "w2", "s");
    h.mdp2_request(1, "c1", "s", "go");
    let (_, id, _) = h.mdp_dispatched().remove(0);
    h.mdp_reply(2, true, 3, "w1", &id, "part");
    h.drain();
    h.timeout(501);
    let out = h.drain();
    assert_eq!(out.len(), 1, "no redispatch");
    assert_eq!(
        out[0].frames,
        vec![
            b("c1"),
            b("MDPC02"),
            byte(3),
            b("s"),
            Bytes::new(),
            b("attempt failed after a partial reply")
        ]
    );
    assert_eq!(h.broker.stats().broken_streams, 1);
    // The worker's late parts and reply are dropped and counted.
    h.mdp_reply(600, true, 3, "w1", &id, "more");
    h.mdp_reply(601, true, 4, "w1", &id, "end");
    assert!(h.drain().iter().all(|o| o.side == Side::Backend));
    assert_eq!(h.broker.stats().late_partials, 1);
    assert_eq!(h.broker.stats().duplicate_replies, 1);
}

#[test]
fn late_reply_cannot_be_mixed_with_a_streaming_attempt() {
    let mut h = Harness::new(config());
    h.mdp1_ready(0, Side::Backend, "w1", "s");
    h.mdp2_ready(0, "w2", "s");
    h.mdp2_request(1, "c1", "s", "go");
    let (_, id, _) = h.mdp_dispatched().remove(0);
    h.timeout(501); // w1's attempt fails; w2 gets it
    assert_eq!(h.mdp_dispatched()[0].0, "w2");
    h.mdp_reply(502, true, 3, "w2", &id, "part");
    h.mdp_reply(503, false, 3, "w1", &id, "late");
    assert_eq!(h.broker.stats().late_replies_refused, 1);
    h.mdp_reply(504, true, 4, "w2", &id, "end");
    let last = h.drain().pop().unwrap();
    assert_eq!(last.frames.last().unwrap(), "end");
    assert_eq!(h.broker.stats().answered, 1);
}

#[test]
fn pirate_and_mdp_workers_share_the_default_service() {
    let mut h = Harness::new(config());
    h.ppp_ready(0, "ppp");
    h.mdp1_ready(1, Side::Backend, "mdp", "default");
    h.request(2, "c1", "one");
    h.request(2, "c2", "two");
    let out = h.drain();
    assert_eq!(out[0].frames[..2], [b("ppp"), out[0].frames[1].clone()]);
    assert_eq!(
        out[1].frames[..4],
        [b("mdp"), Bytes::new(), b(W01), byte(2)]
    );
    let id = out[1].frames[4].clone();
    h.mdp_reply(3, false, 3, "mdp", &id, "from mdp");
    // A plain client gets a plain reply, whoever answered.
    assert_eq!(h.drain()[0].frames, f(&["c2", "", "from mdp"]));
}

#[test]
fn malformed_mdp_is_counted_and_the_broker_keeps_serving() {
    let mut h = Harness::new(config());
    let bad = [
        vec![Bytes::new(), b(W01)],                     // no command
        vec![b(W02), byte(9)],                          // unknown command
        vec![b(W02), byte(1)],                          // READY without service
        vec![Bytes::new(), b(W01), byte(3), b("addr")], // REPLY without delimiter
    ];
    for frames in bad {
        h.broker.handle_backend(h.at(0), b("w"), frames);
    }
    h.broker
        .handle_frontend(h.at(0), b("c"), vec![b("MDPC02"), byte(1), b("svc")]);
    assert_eq!(h.broker.stats().malformed_backend, 4);
    assert_eq!(h.broker.stats().malformed_frontend, 1);
    h.mdp1_ready(1, Side::Backend, "w", "echo");
    h.mdp1_request(2, "c", "echo", "still");
    assert_eq!(h.mdp_dispatched()[0].2, "still");
}

#[test]
fn finishing_a_shutdown_sends_disconnect_to_every_majordomo_worker() {
    let mut h = Harness::new(BrokerConfig::default());
    h.mdp1_ready(0, Side::Backend, "m1", "echo");
    h.mdp2_ready(0, "m2", "echo");
    h.ppp_ready(0, "p1");
    h.drain();
    h.broker.drain(h.at(1));
    h.broker.finish(h.at(2));
    let out = h.drain();
    assert!(
        disconnect_to(&out, "m1") && disconnect_to(&out, "m2"),
        "{out:?}"
    );
    assert!(
        out.iter().all(|o| o.frames[0] != "p1"),
        "Pirate has no DISCONNECT"
    );
}

#[test]
fn services_nobody_serves_are_forgotten_once_their_requests_end() {
    let mut h = Harness::new(config());
    // 1,000 names: the first 100 wait (the queue limit), the rest are
    // refused at once; either way each made a service.
    for i in 0..1000 {
        h.mdp1_request(0, "c1", &format!("s{i}"), "hi");
    }
    assert_eq!(h.broker.stats().rejected_queue_full, 900);
    assert_eq!(h.drain().len(), 900);
    assert_eq!(
        h.broker.services_known(),
        101,
        "the default and 100 waiting"
    );
    h.timeout(10_000);
    assert_eq!(h.drain().len(), 100);
    assert_eq!(h.broker.stats().wait_expired, 100);
    assert_eq!(h.broker.services_known(), 1, "only the default is left");
    assert_eq!(h.broker.stats().services_forgotten, 1000);
    // A forgotten name works as a new one; its slot may be reused.
    h.mdp1_ready(10_001, Side::Backend, "w1", "s7");
    h.mdp1_request(10_002, "c1", "s7", "again");
    assert_eq!(h.mdp_dispatched()[0].2, "again");
    assert_eq!(h.broker.services_known(), 2);
}

#[test]
fn a_service_is_kept_while_a_worker_serves_it_or_a_request_names_it() {
    let mut h = Harness::new(config());
    h.mdp1_ready(0, Side::Backend, "w1", "echo");
    h.mdp1_request(1, "c1", "echo", "x");
    let (_, id, _) = h.mdp_dispatched().remove(0);
    // The only worker leaves mid-request: the request goes back to the
    // queue and keeps the service.
    let bye = vec![Bytes::new(), b(W01), byte(5)];
    h.broker.handle_backend(h.at(2), b("w1"), bye.clone());
    h.drain();
    assert_eq!(h.broker.services_known(), 2);
    h.mdp1_ready(3, Side::Backend, "w2", "echo");
    let (worker, retry, body) = h.mdp_dispatched().remove(0);
    assert_eq!((worker.as_str(), body.as_str()), ("w2", "x"));
    assert_eq!(retry, id);
    h.mdp_reply(4, false, 3, "w2", &retry, "x");
    assert_eq!(h.drain().len(), 1, "the reply");
    // Served, with nothing waiting: kept while its worker is there.
    assert_eq!(h.broker.services_known(), 2);
    h.broker.handle_backend(h.at(5), b("w2"), bye);
    h.drain();
    assert_eq!(h.broker.services_known(), 1);
    assert_eq!(h.broker.stats().services_forgotten, 1);
}
