//! Issue 2: failures over real processes and sockets: workers killed
//! mid-request, workers that drop everything, no broker at all, and
//! malformed frames on both broker sockets.

mod common;

use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

/// Starts `corsair worker --dialect DIALECT` with `extra` flags and waits
/// until the broker has registered it.
fn worker(broker: &mut BrokerProc, dialect: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["--dialect", dialect];
    args.extend_from_slice(extra);
    broker.worker(&format!("worker {dialect}"), &args)
}

fn killed_mid_request_is_redispatched(dialect: &str) {
    let mut broker = start_broker(&["--heartbeat", "200ms", "--attempt-timeout", "3s", "-v"]);
    // Only the slow worker is there when the request arrives.
    let mut slow = worker(&mut broker, dialect, &["--delay", "30s"]);
    let client = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &broker.frontend,
            "--timeout",
            "20s",
            "precious",
        ]),
    );
    slow.wait_for("request received", LONG);
    slow.signal("KILL");
    slow.kill();
    let _healthy = worker(&mut broker, dialect, &[]);
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert_eq!(lines, vec!["precious".to_owned()]);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 1);
    assert_eq!(stat(&stats, "retried"), 1, "one failed attempt: {stats}");
}

#[test]
fn paranoid_worker_killed_mid_request_is_redispatched() {
    let _bomb = time_bomb("ppp_killed", Duration::from_secs(90));
    killed_mid_request_is_redispatched("ppp");
}

#[test]
fn simple_worker_killed_mid_request_is_redispatched() {
    let _bomb = time_bomb("simple_killed", Duration::from_secs(90));
    killed_mid_request_is_redispatched("simple");
}

#[test]
fn every_worker_dropping_gives_failure_after_exactly_max_attempts() {
    let _bomb = time_bomb("all_drop", Duration::from_secs(90));
    let mut broker = start_broker(&[
        "--max-attempts",
        "3",
        "--attempt-timeout",
        "200ms",
        "--heartbeat",
        "100ms",
    ]);
    let mut workers: Vec<Proc> = ["ppp", "ppp", "simple"]
        .into_iter()
        .map(|d| worker(&mut broker, d, &["--drop", "1", "--heartbeat", "100ms"]))
        .collect();
    let client = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &broker.frontend,
            "--timeout",
            "20s",
            "--requests",
            "4",
        ]),
    );
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert_eq!(lines, vec!["failure"; 4]);
    let stats = broker.stop();
    assert_eq!(
        stat(&stats, "dispatched"),
        12,
        "4 requests x 3 attempts: {stats}"
    );
    assert_eq!(stat(&stats, "attempts_exhausted"), 4);
    let drops: usize = workers
        .iter_mut()
        .map(|w| {
            w.lines_so_far()
                .iter()
                .filter(|l| l.contains("dropping request"))
                .count()
        })
        .sum();
    assert_eq!(drops, 12, "each request reached exactly 3 workers");
}

#[test]
fn client_without_broker_errors_after_its_retries() {
    let _bomb = time_bomb("no_broker", Duration::from_secs(60));
    // A port nobody listens on: bind an ephemeral one and let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let client = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &ep,
            "--timeout",
            "200ms",
            "--retries",
            "2",
            "x",
        ]),
    );
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(1));
    assert_eq!(lines.len(), 1, "one-line message: {lines:?}");
    assert!(
        lines[0].contains("after 3 sends: broker unreachable"),
        "{lines:?}"
    );
}

#[test]
fn malformed_frames_on_both_sockets_are_counted_and_serving_goes_on() {
    let _bomb = time_bomb("malformed", Duration::from_secs(90));
    let mut broker = start_broker(&[]);
    let garbage = Proc::spawn(
        "garbage.py",
        python("garbage.py", &[&broker.frontend, &broker.backend]),
    );
    let (code, lines) = garbage.wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    broker
        .proc
        .wait_for("reply with an envelope naming no request", LONG);
    let _w = worker(&mut broker, "ppp", &[]);
    let client = Proc::spawn(
        "lpclient.py",
        python("lpclient.py", &[&broker.frontend, "5", "5000", "3"]),
    );
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), 5);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "malformed_frontend"), 2, "{stats}");
    assert_eq!(stat(&stats, "malformed_backend"), 3, "{stats}");
    assert_eq!(stat(&stats, "unknown_replies"), 1, "{stats}");
    assert_eq!(stat(&stats, "answered"), 5, "{stats}");
}
