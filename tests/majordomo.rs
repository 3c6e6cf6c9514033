//! Issue 3: Majordomo 0.1 and 0.2 with MMI in the same broker as the
//! Pirate dialects. The pyzmq peers (tests/peers/mdp.py) are written from
//! 7/MDP and 18/MDP; they run next to corsair's own MDP client and
//! worker and pyzmq Pirate peers, against one `corsair broker`.

mod common;

use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

fn mdp(args: &[&str]) -> std::process::Command {
    python("mdp.py", args)
}

/// Lines of `p` (so far) that start with `prefix`.
fn count(p: &mut Proc, prefix: &str) -> usize {
    p.lines_so_far()
        .iter()
        .filter(|l| l.starts_with(prefix))
        .count()
}

#[test]
fn every_dialect_against_one_broker_with_workers_on_both_sockets() {
    let _bomb = time_bomb("every_dialect", Duration::from_secs(120));
    // -v: the broker logs each worker it registers.
    let mut broker = start_broker(&["--heartbeat", "500ms", "-v"]);
    let (front, back) = (broker.frontend.clone(), broker.backend.clone());
    // MDP/0.1 worker on the workers' socket, MDP/0.2 worker on the
    // clients' socket (7/MDP allows one socket for both roles).
    let mut w1 = Proc::spawn(
        "mdp worker1",
        mdp(&["worker1", &back, "echo", "--reply-prefix", "w1:"]),
    );
    let mut w2 = Proc::spawn(
        "mdp worker2",
        mdp(&["worker2", &front, "stream", "--partials", "2"]),
    );
    let mut cw = Proc::spawn(
        "corsair mdp2 worker",
        corsair(&[
            "worker",
            "--connect",
            &back,
            "--dialect",
            "mdp2",
            "--service",
            "echo",
        ]),
    );
    let mut pp = Proc::spawn("ppworker.py", python("ppworker.py", &[&back, "0.5"]));
    for w in [&mut w1, &mut w2] {
        w.wait_for("ready", LONG);
    }
    cw.wait_for("worker ready", LONG);
    // Every READY has reached the broker before a client starts.
    broker.proc.wait_for_count("worker registered", 4, LONG);

    let c1 = Proc::spawn(
        "mdp client1",
        mdp(&["client1", &front, "echo", "--requests", "20"]),
    );
    let c2 = Proc::spawn(
        "mdp client2",
        mdp(&["client2", &front, "stream", "--requests", "5"]),
    );
    let lp = Proc::spawn(
        "lpclient.py",
        python("lpclient.py", &[&front, "10", "5000", "3"]),
    );
    let cc = Proc::spawn(
        "corsair client mdp",
        corsair(&[
            "client",
            "--connect",
            &front,
            "--service",
            "echo",
            "--requests",
            "5",
            "hi",
        ]),
    );
    let cc2 = Proc::spawn(
        "corsair client mdp2",
        corsair(&[
            "client",
            "--connect",
            &front,
            "--dialect",
            "mdp2",
            "--service",
            "stream",
            "go",
        ]),
    );

    let (code, lines) = c1.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let replies: Vec<_> = lines.iter().filter(|l| l.starts_with("reply ")).collect();
    assert_eq!(replies.len(), 20, "{lines:?}");
    for (i, l) in replies.iter().enumerate() {
        // Either echo worker may answer; the body comes back either way.
        let body = format!("request-{}", i + 1);
        assert!(l.ends_with(&body), "{l} should carry {body}");
    }

    let (code, lines) = c2.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| *l == "partial part-1").count(),
        5,
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| *l == "partial part-2").count(),
        5,
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("final ")).count(),
        5,
        "{lines:?}"
    );

    let (code, lines) = lp.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("ok ")).count(),
        10,
        "{lines:?}"
    );

    let (code, lines) = cc.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let hi: Vec<_> = lines.iter().filter(|l| l.ends_with("hi")).collect();
    assert_eq!(hi.len(), 5, "{lines:?}");

    let (code, lines) = cc2.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, vec!["part-1", "part-2", "go"]);

    // Each worker served its own service only, each request once.
    let by_w1 = count(&mut w1, "request ");
    let by_cw = cw
        .lines_so_far()
        .iter()
        .filter(|l| l.contains("request received"))
        .count();
    assert_eq!(by_w1 + by_cw, 25, "echo requests served once each");
    assert!(by_w1 > 0 && by_cw > 0, "w1 {by_w1}, corsair worker {by_cw}");
    assert_eq!(count(&mut w2, "request "), 6);
    assert_eq!(count(&mut pp, "served"), 10);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 20 + 5 + 10 + 5 + 1);
    assert_eq!(stat(&stats, "failed"), 0);
}

#[test]
fn one_socket_serves_clients_and_workers() {
    let _bomb = time_bomb("bind", Duration::from_secs(60));
    let broker = start_broker_single(&[]);
    let ep = broker.frontend.clone();
    let mut w = Proc::spawn("mdp worker1", mdp(&["worker1", &ep, "echo"]));
    w.wait_for("ready", LONG);
    let mut cw = Proc::spawn(
        "corsair mdp worker",
        corsair(&[
            "worker",
            "--connect",
            &ep,
            "--dialect",
            "mdp",
            "--service",
            "upper",
        ]),
    );
    cw.wait_for("worker ready", LONG);
    std::thread::sleep(Duration::from_millis(300));
    let (code, lines) =
        Proc::spawn("client1", mdp(&["client1", &ep, "echo", "--requests", "3"])).wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("reply request-"))
            .count(),
        3
    );
    let (code, lines) = Proc::spawn(
        "corsair client",
        corsair(&["client", "--connect", &ep, "--service", "upper", "x"]),
    )
    .wait(LONG);
    assert_eq!((code, lines), (Some(0), vec!["x".to_owned()]));
    broker.stop();
}

#[test]
fn mmi_answers_and_a_service_without_workers_fails_at_its_wait_limit() {
    let _bomb = time_bomb("mmi", Duration::from_secs(60));
    let broker = start_broker(&["--wait-limit", "500ms"]);
    let (front, back) = (broker.frontend.clone(), broker.backend.clone());
    let mut w = Proc::spawn("mdp worker1", mdp(&["worker1", &back, "echo"]));
    w.wait_for("ready", LONG);
    std::thread::sleep(Duration::from_millis(300));
    let ask = |service: &str, body: &str| {
        let (code, lines) =
            Proc::spawn("client1", mdp(&["client1", &front, service, body])).wait(LONG);
        assert_eq!(
            code,
            Some(0),
            "an unmodified MDP client accepts it: {lines:?}"
        );
        lines
    };
    assert_eq!(ask("mmi.service", "echo"), vec!["reply 200"]);
    assert_eq!(ask("mmi.service", "nobody"), vec!["reply 404"]);
    assert_eq!(ask("mmi.workers", "echo"), vec!["reply 501"]);
    // The failure reply keeps the requested service name, so mdcliapi's
    // checks pass; its body is an empty frame and the reason.
    let lines = ask("nobody", "hello");
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("reply |no worker took the request"),
        "{lines:?}"
    );
    // corsair's client turns it into an error, not a timeout.
    let (code, lines) = Proc::spawn(
        "corsair client",
        corsair(&[
            "client",
            "--connect",
            &front,
            "--service",
            "nobody",
            "hello",
        ]),
    )
    .wait(LONG);
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("failure: no worker took the request"),
        "{lines:?}"
    );
    let (code, lines) = Proc::spawn(
        "corsair client",
        corsair(&[
            "client",
            "--connect",
            &front,
            "--service",
            "mmi.service",
            "echo",
        ]),
    )
    .wait(LONG);
    assert_eq!((code, lines), (Some(0), vec!["200".to_owned()]));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "mmi_requests"), 4);
    assert_eq!(stat(&stats, "wait_expired"), 2);
}

#[test]
fn a_worker_sending_ready_twice_is_disconnected() {
    let _bomb = time_bomb("ready_twice", Duration::from_secs(60));
    let broker = start_broker(&[]);
    let mut w = Proc::spawn(
        "mdp worker1",
        mdp(&["worker1", &broker.backend, "echo", "--ready-twice"]),
    );
    w.wait_for("disconnect", LONG);
    let stats = broker.stop();
    assert!(stat(&stats, "workers_refused") >= 1, "{stats}");
}

/// Starts worker A (which gets the first request), then worker B.
fn two_workers(back: &str, a_flags: &[&str]) -> (Proc, Proc) {
    let mut a_args = vec![
        "worker1",
        back,
        "echo",
        "--heartbeat",
        "0.2",
        "--reply-prefix",
        "A:",
    ];
    a_args.extend_from_slice(a_flags);
    let mut a = Proc::spawn("worker A", mdp(&a_args));
    a.wait_for("ready", LONG);
    std::thread::sleep(Duration::from_millis(300));
    let mut b = Proc::spawn(
        "worker B",
        mdp(&[
            "worker1",
            back,
            "echo",
            "--heartbeat",
            "0.2",
            "--reply-prefix",
            "B:",
        ]),
    );
    b.wait_for("ready", LONG);
    std::thread::sleep(Duration::from_millis(300));
    (a, b)
}

// The attempt timeout is long, so only the broker noticing the worker's
// silence (3 x 200 ms) can move the request on.
const FAST_EXPIRY: &[&str] = &["--mdp-heartbeat", "200ms", "--attempt-timeout", "30s"];

#[test]
fn an_mdp_worker_killed_mid_request_has_its_request_redispatched() {
    let _bomb = time_bomb("killed", Duration::from_secs(60));
    let broker = start_broker(FAST_EXPIRY);
    let (mut a, _b) = two_workers(&broker.backend, &["--delay", "30"]);
    let client = Proc::spawn(
        "client1",
        mdp(&[
            "client1",
            &broker.frontend,
            "echo",
            "job",
            "--timeout",
            "20",
        ]),
    );
    a.wait_for("request", LONG);
    a.signal("KILL");
    let (code, lines) = client.wait(LONG);
    assert_eq!((code, lines), (Some(0), vec!["reply B:job".to_owned()]));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "workers_expired"), 1);
    assert_eq!(stat(&stats, "retried"), 1);
}

#[test]
fn a_worker_that_stops_heartbeating_is_expired_and_its_request_redispatched() {
    let _bomb = time_bomb("silent", Duration::from_secs(60));
    let broker = start_broker(FAST_EXPIRY);
    let (mut a, _b) = two_workers(&broker.backend, &["--silent-after-request"]);
    let client = Proc::spawn(
        "client1",
        mdp(&[
            "client1",
            &broker.frontend,
            "echo",
            "job",
            "--timeout",
            "20",
        ]),
    );
    a.wait_for("request", LONG);
    let (code, lines) = client.wait(LONG);
    assert_eq!((code, lines), (Some(0), vec!["reply B:job".to_owned()]));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "workers_expired"), 1);
    assert_eq!(stat(&stats, "attempt_timeouts"), 0);
}

#[test]
fn malformed_majordomo_is_refused_counted_and_the_broker_keeps_serving() {
    let _bomb = time_bomb("malformed", Duration::from_secs(60));
    let broker = start_broker(&[]);
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let (w02, w01, c02) = (hex("MDPW02"), hex("MDPW01"), hex("MDPC02"));
    let bad_worker: Vec<Vec<String>> = vec![
        vec![hex("MDPW09"), "01".into(), hex("echo")], // wrong header (a bare Pirate frame list)
        vec![w02.clone()],                             // no command
        vec!["-".into(), w01.clone(), "09".into()],    // unknown command byte
        vec![w02.clone(), "01".into()],                // READY without service
    ];
    for frames in &bad_worker {
        let mut args = vec!["raw", broker.backend.as_str()];
        args.extend(frames.iter().map(String::as_str));
        let (code, _) = Proc::spawn("raw", mdp(&args)).wait(LONG);
        assert_eq!(code, Some(0));
    }
    let bad_client: Vec<Vec<String>> = vec![
        vec![c02.clone(), "01".into(), hex("echo")], // no body
        vec![c02.clone(), "07".into(), hex("echo"), hex("x")], // unknown command
    ];
    for frames in &bad_client {
        let mut args = vec!["raw", broker.frontend.as_str()];
        args.extend(frames.iter().map(String::as_str));
        let (code, lines) = Proc::spawn("raw", mdp(&args)).wait(LONG);
        assert_eq!(code, Some(0));
        assert!(
            lines.is_empty(),
            "no answer to a malformed request: {lines:?}"
        );
    }
    let mut w = Proc::spawn("mdp worker1", mdp(&["worker1", &broker.backend, "echo"]));
    w.wait_for("ready", LONG);
    std::thread::sleep(Duration::from_millis(300));
    let (code, lines) = Proc::spawn(
        "client1",
        mdp(&["client1", &broker.frontend, "echo", "still"]),
    )
    .wait(LONG);
    assert_eq!((code, lines), (Some(0), vec!["reply still".to_owned()]));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "malformed_backend"), 4);
    assert_eq!(stat(&stats, "malformed_frontend"), 2);
}
