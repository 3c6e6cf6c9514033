//! Issue 8: graceful shutdown. SIGTERM to the broker with requests in
//! flight and queued; SIGTERM to a worker in the middle of a request.

mod common;

use std::time::{Duration, Instant};

use common::*;
// Links the libzmq corsair builds, which the raw client here uses.
use corsair as _;

const LONG: Duration = Duration::from_secs(30);

fn client(endpoint: &str) -> Proc {
    Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            endpoint,
            "--timeout",
            "10s",
            "--retries",
            "0",
        ]),
    )
}

/// A broker with one slow worker (1 s a request): one request in flight
/// and one queued when the broker gets SIGTERM.
fn in_flight_and_queued(grace: &str) -> (BrokerProc, Proc, Proc, Proc) {
    let mut broker = start_broker(&["--grace", grace, "--wait-limit", "30s"]);
    let mut worker = broker.worker("slow worker", &["--delay", "1s"]);
    let first = client(&broker.frontend);
    worker.wait_for("request received", LONG);
    let second = client(&broker.frontend);
    std::thread::sleep(Duration::from_millis(200));
    (broker, worker, first, second)
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_fails_the_queued_one() {
    let _bomb = time_bomb("broker shutdown with grace", LONG);
    let (broker, _worker, first, second) = in_flight_and_queued("3s");
    let stopped = Instant::now();
    let stats = broker.stop();
    let took = stopped.elapsed();
    let (code, lines) = first.wait(LONG);
    assert_eq!(
        (code, lines.last().map(String::as_str)),
        (Some(0), Some("1")),
        "{lines:?}"
    );
    let (code, lines) = second.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("failure"),
        "{lines:?}"
    );
    assert_eq!(stat(&stats, "answered"), 1, "{stats}");
    assert_eq!(stat(&stats, "shutdown_failed"), 1, "{stats}");
    assert!(
        took < Duration::from_secs(3),
        "it exits once nothing is in flight: {took:?}"
    );
}

#[test]
fn sigterm_fails_what_is_still_in_flight_when_the_grace_period_ends() {
    let _bomb = time_bomb("broker shutdown past grace", LONG);
    let (broker, _worker, first, second) = in_flight_and_queued("200ms");
    let stats = broker.stop();
    for c in [first, second] {
        let (code, lines) = c.wait(LONG);
        assert_eq!(code, Some(0), "{lines:?}");
        assert_eq!(
            lines.last().map(String::as_str),
            Some("failure"),
            "{lines:?}"
        );
    }
    assert_eq!(stat(&stats, "answered"), 0, "{stats}");
    assert_eq!(stat(&stats, "shutdown_failed"), 2, "{stats}");
}

#[test]
fn sigterm_to_a_worker_finishes_its_request_says_disconnect_and_exits_0() {
    let _bomb = time_bomb("worker shutdown", LONG);
    let mut broker = start_broker(&[]);
    let mut worker = broker.worker(
        "slow mdp worker",
        &["--dialect", "mdp", "--service", "echo", "--delay", "1s"],
    );
    let c = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &broker.frontend,
            "--service",
            "echo",
            "hi",
        ]),
    );
    worker.wait_for("request received", LONG);
    worker.signal("TERM");
    let (code, lines) = worker.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let (code, lines) = c.wait(LONG);
    assert_eq!(
        (code, lines.last().map(String::as_str)),
        (Some(0), Some("hi")),
        "{lines:?}"
    );
    broker.proc.wait_for("worker disconnected", LONG);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "workers_disconnected"), 1, "{stats}");
    assert_eq!(stat(&stats, "answered"), 1, "{stats}");
}

/// Replies the broker still holds for a client that reads slowly when it
/// shuts down go out within the linger instead of being dropped, on both
/// engines (the native one writes on the broker thread, where libzmq's
/// own linger does not help).
#[test]
fn replies_queued_for_a_slow_reader_still_go_out_at_shutdown() {
    let _bomb = time_bomb("shutdown with replies queued", 2 * LONG);
    for engine in ["native", "libzmq"] {
        replies_go_out_at_shutdown(engine);
    }
}

fn replies_go_out_at_shutdown(engine: &str) {
    const N: usize = 40;
    const SIZE: usize = 256 * 1024;
    let mut broker = start_broker(&["--engine", engine]);
    let mut worker = broker.worker("worker", &["--credit", "64"]);

    // A client that holds one message and a small kernel buffer: most of
    // the 10 MB of replies must wait in the broker, more than the
    // broker's socket buffer can take.
    let ctx = zmq::Context::new();
    let client = ctx.socket(zmq::DEALER).unwrap();
    client.set_linger(0).unwrap();
    client.set_rcvhwm(1).unwrap();
    client.set_rcvbuf(4096).unwrap();
    client.connect(&broker.frontend).unwrap();
    let body = |i: usize| vec![i as u8; SIZE];
    for i in 0..N {
        client
            .send_multipart([format!("t{i}").into_bytes(), vec![], body(i)], 0)
            .unwrap();
    }
    // Every request is with the worker: none is still queued (and failed)
    // when the shutdown begins, and the grace period waits for them.
    worker.wait_for_count("request received", N, LONG);
    broker.proc.signal("TERM");

    let mut seen = [false; N];
    for _ in 0..N {
        assert!(
            client.poll(zmq::POLLIN, 20_000).unwrap() > 0,
            "{engine}: replies lost at shutdown: got {} of {N}",
            seen.iter().filter(|s| **s).count()
        );
        let reply = client.recv_multipart(0).unwrap();
        let i: usize = String::from_utf8_lossy(&reply[0])[1..].parse().unwrap();
        assert!(!seen[i], "reply {i} twice");
        seen[i] = true;
        assert!(reply[2] == body(i), "reply {i} changed on the way");
    }
    let (code, lines) = broker.proc.wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let stats = lines
        .iter()
        .find(|l| l.contains("stopped;"))
        .expect("broker prints its final stats");
    assert_eq!(stat(stats, "answered"), N as u64, "{stats}");
    assert_eq!(stat(stats, "shutdown_failed"), 0, "{stats}");
}
