//! Issue 8: hostile peers over real sockets. Random garbage on both
//! broker sockets, 10,000 connections that say READY and vanish, and a
//! client flooding a million requests with no worker: the broker stays
//! up, within a stated memory bound, and every flooded request gets the
//! failure reply. (Oversized messages: tests/curve.rs.)

mod common;

use std::time::{Duration, Instant};

use common::*;
// Links libzmq (built by corsair-libzmq) for the raw sockets below.
use corsair as _;

const LONG: Duration = Duration::from_secs(60);

/// The broker's resident memory in bytes (Linux /proc).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

fn dealer(ctx: &zmq::Context, endpoint: &str) -> zmq::Socket {
    let s = ctx.socket(zmq::DEALER).unwrap();
    s.set_linger(0).unwrap();
    s.connect(endpoint).unwrap();
    s
}

/// A round trip through a real worker and client still works.
fn still_serves(broker: &BrokerProc) {
    let mut worker = Proc::spawn("worker", corsair(&["worker", "--connect", &broker.backend]));
    worker.wait_for("worker ready", LONG);
    let (code, lines) = Proc::spawn(
        "client",
        corsair(&["client", "--connect", &broker.frontend, "--requests", "20"]),
    )
    .wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    let expected: Vec<String> = (1..=20).map(|n| n.to_string()).collect();
    assert_eq!(lines, expected, "every request answered, none failed");
}

#[test]
fn random_garbage_on_both_sockets_is_counted_and_the_broker_serves_on() {
    let _bomb = time_bomb("garbage", Duration::from_secs(90));
    let broker = start_broker(&[]);
    let ctx = zmq::Context::new();
    let sockets = [
        dealer(&ctx, &broker.frontend),
        dealer(&ctx, &broker.backend),
    ];
    // A fixed seed, so a failure can be replayed.
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: [&[u8]; 8] = [
        b"",
        b"MDPW01",
        b"MDPC02",
        &[1],
        &[2],
        &[5],
        &[0xff; 3],
        b"x",
    ];
    for _ in 0..5000 {
        for socket in &sockets {
            let n = next() % 6;
            let frames: Vec<Vec<u8>> = (0..n)
                .map(|_| match next() % 3 {
                    0 => pieces[(next() % pieces.len() as u64) as usize].to_vec(),
                    _ => (0..next() % 40).map(|_| next() as u8).collect(),
                })
                .collect();
            if !frames.is_empty() {
                socket.send_multipart(frames, 0).unwrap();
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // Some garbage is well-formed by chance (a READY, a plain request):
    // the sockets close, so the phantom workers are forgotten on their
    // first dispatch, which costs no attempt.
    drop(sockets);
    std::thread::sleep(Duration::from_millis(200));
    still_serves(&broker);
    let stats = broker.stop();
    let malformed = stat(&stats, "malformed_frontend") + stat(&stats, "malformed_backend");
    assert!(malformed > 1000, "garbage is counted: {stats}");
    assert!(stat(&stats, "answered") >= 20, "{stats}");
}

#[test]
fn ten_thousand_workers_that_say_ready_and_vanish_cost_no_request_an_attempt() {
    let _bomb = time_bomb("vanishing workers", Duration::from_secs(120));
    let broker = start_broker(&[]);
    // 20 rounds of 500 (a libzmq context holds at most 1023 sockets).
    for _ in 0..20 {
        let ctx = zmq::Context::new();
        let batch: Vec<zmq::Socket> = (0..500)
            .map(|_| {
                let s = dealer(&ctx, &broker.backend);
                s.send(&[1u8][..], 0).unwrap();
                s
            })
            .collect();
        // Each READY is on its way before the connection closes.
        std::thread::sleep(Duration::from_millis(300));
        // Ending the context waits until every connection is closed: the
        // workers have really vanished before the client comes (a worker
        // that dies after taking a request does cost an attempt).
        drop(batch);
        drop(ctx);
    }
    still_serves(&broker);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "failed"), 0, "{stats}");
    assert_eq!(stat(&stats, "answered"), 20, "{stats}");
}

#[test]
fn a_flood_of_a_million_requests_with_no_worker_all_get_the_failure_reply_in_bounded_memory() {
    let n: u64 = std::env::var("CORSAIR_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let _bomb = time_bomb("flood", Duration::from_secs(300));
    let broker = start_broker(&["--queue-limit", "100000", "--wait-limit", "1s"]);
    let pid = broker.proc.pid();
    let before = rss(pid);
    let ctx = zmq::Context::new();
    let s = dealer(&ctx, &broker.frontend);
    s.set_sndhwm(10_000).unwrap();
    s.set_rcvhwm(0).unwrap();
    let (mut sent, mut failures, mut answers, mut peak) = (0u64, 0u64, 0u64, before);
    let started = Instant::now();
    let mut last_sample = Instant::now();
    while failures + answers < n {
        assert!(
            started.elapsed() < Duration::from_secs(280),
            "flood stalled"
        );
        let mut items = [s.as_poll_item(zmq::POLLIN | zmq::POLLOUT)];
        zmq::poll(&mut items, 100).unwrap();
        while sent < n && s.get_events().unwrap().contains(zmq::POLLOUT) {
            s.send_multipart([&b""[..], b"flood"], zmq::DONTWAIT)
                .unwrap();
            sent += 1;
            if sent % 1000 == 0 {
                break; // read between bursts
            }
        }
        while let Ok(reply) = s.recv_multipart(zmq::DONTWAIT) {
            if reply == [b"".to_vec(), b"".to_vec()] {
                failures += 1;
            } else {
                answers += 1;
            }
        }
        if last_sample.elapsed() > Duration::from_millis(100) {
            peak = peak.max(rss(pid));
            last_sample = Instant::now();
        }
    }
    let took = started.elapsed();
    eprintln!(
        "flood: {n} requests, {failures} failure replies in {took:?}; broker RSS {} MB before, peak {} MB",
        before / 1_000_000,
        peak / 1_000_000
    );
    assert_eq!((failures, answers), (n, 0));
    // The bound: 100,000 queued requests at ~340 B, plus libzmq's pipes.
    assert!(
        peak < before + 200_000_000,
        "peak RSS {peak} B, before {before} B"
    );
    let stats = broker.stop();
    assert_eq!(stat(&stats, "failed"), n, "{stats}");
    assert!(stat(&stats, "rejected_queue_full") > 0, "{stats}");
}
