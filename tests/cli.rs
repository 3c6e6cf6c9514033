//! Issue 2: the `corsair` commands as a user runs them.

mod common;

use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

/// Runs `corsair ARGS`, which must exit with `code` and print an error
/// line holding every one of `says`. The line starts as the CLI starts
/// each kind: "error:" for a usage error (clap's, exit 2), "corsair:"
/// for a command that failed (exit 1).
fn refused(args: &[&str], code: i32, says: &[&str]) {
    let (exit, lines) = Proc::spawn("usage", corsair(args)).wait(LONG);
    assert_eq!(exit, Some(code), "{args:?}: {lines:?}");
    let start = if code == 2 { "error:" } else { "corsair:" };
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(start) && says.iter().all(|s| l.contains(s))),
        "{args:?} should say {start} {says:?}: {lines:?}"
    );
}

#[test]
fn demo_answers_everything_and_loses_nothing() {
    let _bomb = time_bomb("demo", Duration::from_secs(120));
    let demo = Proc::spawn("demo", corsair(&["demo", "--requests", "400"]));
    let (code, lines) = demo.wait(Duration::from_secs(100));
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let row = |name: &str| -> u64 {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("| {name} ")))
            .unwrap_or_else(|| panic!("no {name} row in\n{}", lines.join("\n")));
        line.split('|').nth(2).unwrap().trim().parse().unwrap()
    };
    assert_eq!(row("sent"), 400);
    assert_eq!(row("lost"), 0);
    assert_eq!(row("answered") + row("definite failures"), 400);
}

#[test]
fn worker_exec_answers_with_the_command_output() {
    let _bomb = time_bomb("exec", Duration::from_secs(60));
    let broker = start_broker(&[]);
    let mut w = Proc::spawn(
        "worker",
        corsair(&[
            "worker",
            "--connect",
            &broker.backend,
            "--exec",
            "tr a-z A-Z",
        ]),
    );
    w.wait_for("worker ready", LONG);
    let client = Proc::spawn(
        "client",
        corsair(&["client", "--connect", &broker.frontend, "shout"]),
    );
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, vec!["SHOUT"]);
    broker.stop();
}

#[test]
fn crashing_worker_exits_and_its_request_goes_to_another() {
    let _bomb = time_bomb("crash", Duration::from_secs(60));
    let broker = start_broker(&["--heartbeat", "200ms", "--attempt-timeout", "1s"]);
    let mut crasher = Proc::spawn(
        "crasher",
        corsair(&["worker", "--connect", &broker.backend, "--crash", "1"]),
    );
    crasher.wait_for("worker ready", LONG);
    let client = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &broker.frontend,
            "--timeout",
            "20s",
            "survive",
        ]),
    );
    let (code, lines) = crasher.wait(LONG);
    assert_eq!(code, Some(3), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("simulating a crash")));
    let mut healthy = Proc::spawn(
        "healthy",
        corsair(&["worker", "--connect", &broker.backend]),
    );
    healthy.wait_for("worker ready", LONG);
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, vec!["survive"]);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 1);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let _bomb = time_bomb("usage", Duration::from_secs(30));
    for args in [
        &["broker", "--max-attempts", "0"][..],
        &["broker", "--attempt-timeout", "soon"],
        &["broker", "--batch", "0"],
        &["bench", "--io-batch", "0"],
        &["bench", "--compare", "--rounds", "0"],
        &["worker", "--drop", "1.5"],
        &["client", "--retries", "lots"],
    ] {
        refused(args, 2, &[]);
    }
}

#[test]
fn broker_on_a_taken_endpoint_fails_with_a_clear_message() {
    let _bomb = time_bomb("taken", Duration::from_secs(30));
    let broker = start_broker(&[]);
    let second = Proc::spawn(
        "second broker",
        corsair(&[
            "broker",
            "--frontend",
            &broker.frontend,
            "--backend",
            "tcp://127.0.0.1:*",
        ]),
    );
    let (code, lines) = second.wait(LONG);
    assert_eq!(code, Some(1));
    let last = lines.last().unwrap();
    assert!(
        last.contains("cannot bind") && last.contains(&broker.frontend),
        "{lines:?}"
    );
    broker.stop();
}

#[test]
fn bench_drives_a_broker_with_its_own_workers_and_reports_json() {
    let _bomb = time_bomb("bench", Duration::from_secs(60));
    let broker = start_broker(&[]);
    let (code, lines) = Proc::spawn(
        "bench",
        broker.bench(&[
            "--workers",
            "2",
            "--clients",
            "2",
            "--window",
            "8",
            "--requests",
            "400",
            "--json",
        ]),
    )
    .wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let json = lines.last().expect("a JSON line");
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert!(json.contains("\"errors\":0,\"lost\":0"), "{json}");
    assert!(json.contains("\"p99_us\":"), "{json}");
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 400);
}

#[test]
fn bench_with_no_clients_holds_its_workers_on_the_broker_for_the_duration() {
    let _bomb = time_bomb("bench --clients 0", Duration::from_secs(60));
    let broker = start_broker(&["--wait-limit", "500ms"]);
    let mut held = Proc::spawn(
        "bench --clients 0",
        broker.bench(&[
            "--workers",
            "3",
            "--worker-dialect",
            "mdp",
            "--service",
            "parked",
            "--clients",
            "0",
            "--duration",
            "4s",
        ]),
    );
    held.wait_for("3 mdp workers of `parked`", Duration::from_secs(20));
    let since = std::time::Instant::now();
    let ask = |service: &str| {
        let (code, lines) = Proc::spawn(
            "mmi",
            python(
                "mdp.py",
                &["client1", &broker.frontend, "mmi.service", service],
            ),
        )
        .wait(Duration::from_secs(20));
        assert_eq!(code, Some(0), "{lines:?}");
        lines
    };
    assert_eq!(
        ask("parked"),
        vec!["reply 200"],
        "the workers are registered"
    );
    let (code, lines) = held.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{lines:?}");
    assert!(
        since.elapsed() >= Duration::from_millis(3500),
        "held for the whole --duration: {:?}",
        since.elapsed()
    );
    let stats = broker.stop();
    // MMI queries are answered by the broker and are not accepted requests.
    assert_eq!(
        stat(&stats, "accepted"),
        0,
        "no requests were sent: {stats}"
    );
    // Without workers there is nothing to hold, and a count of requests
    // has no meaning without clients.
    for args in [
        &["bench", "--clients", "0"][..],
        &[
            "bench",
            "--clients",
            "0",
            "--workers",
            "2",
            "--requests",
            "5",
        ],
    ] {
        refused(args, 2, &["--clients 0 needs --workers"]);
    }
}

#[test]
fn bench_memory_queues_every_request_in_a_broker_process_and_reports_its_growth() {
    let _bomb = time_bomb("bench --memory", Duration::from_secs(60));
    let (code, lines) = Proc::spawn(
        "bench --memory",
        corsair(&["bench", "--memory", "20000", "--size", "512", "--json"]),
    )
    .wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let json = lines.last().expect("a JSON line");
    let field = |name: &str| -> f64 {
        let key = format!("\"{name}\":");
        let rest = &json[json
            .find(&key)
            .unwrap_or_else(|| panic!("{name} in {json}"))
            + key.len()..];
        let end = rest.find([',', '}']).expect("field end");
        rest[..end].parse().expect("a number")
    };
    assert_eq!(field("queued"), 20000.0);
    // 20,000 requests of 512 B cannot fit in the memory the broker had
    // before them: the growth must be at least the payloads.
    assert!(
        field("rss_after_bytes") - field("rss_before_bytes") >= 20000.0 * 512.0,
        "{json}"
    );
    assert!(field("bytes_per_request") >= 512.0, "{json}");
}

#[test]
fn bench_compare_and_memory_refuse_the_load_options_they_would_ignore() {
    // Both start their own broker and load: a --clients or --workers given
    // with them would be silently dropped, so it is refused before any run
    // starts (a compare run would otherwise take minutes and outlive the
    // bomb).
    let _bomb = time_bomb("bench usage", Duration::from_secs(30));
    for (args, named) in [
        (&["bench", "--compare", "--clients", "8"][..], "--clients"),
        (
            &["bench", "--compare", "--quick", "--size", "4096"],
            "--size",
        ),
        (&["bench", "--memory", "10", "--workers", "3"], "--workers"),
        (
            &["bench", "--memory", "10", "--io-batch", "8192"],
            "--io-batch",
        ),
    ] {
        refused(args, 2, &["cannot be used with", named]);
    }
    // And the compare run's own options without it.
    for args in [&["bench", "--quick"][..], &["bench", "--rounds", "3"]] {
        refused(args, 2, &["--quick and --rounds go with --compare"]);
    }
}

#[test]
fn chaos_kills_workers_while_clients_send_and_loses_nothing() {
    let _bomb = time_bomb("chaos", Duration::from_secs(120));
    let (code, lines) = Proc::spawn(
        "chaos",
        corsair(&["chaos", "--requests", "1000", "--kill-every", "200ms"]),
    )
    .wait(Duration::from_secs(110));
    assert_eq!(code, Some(0), "{lines:?}");
    let last = lines.last().expect("a summary line");
    let field = |name: &str| -> u64 {
        last.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {last}"))
    };
    assert_eq!(field("sent"), 1000, "{last}");
    assert_eq!(field("answered") + field("failed"), 1000, "{last}");
    assert_eq!((field("lost"), field("duplicated")), (0, 0), "{last}");
    let killed = lines
        .iter()
        .find(|l| l.contains("workers killed"))
        .expect("kill count");
    let n: u64 = killed.split_whitespace().next().unwrap().parse().unwrap();
    assert!(n >= 1, "at least one worker was killed: {killed}");
}
