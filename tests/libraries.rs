//! Issue 2: client and worker library behaviour against real peers:
//! endpoint rotation in the Lazy Pirate client, and the Paranoid Pirate
//! worker's reconnect when its broker falls silent.

mod common;

use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

#[test]
fn client_tries_its_endpoints_in_turn() {
    let _bomb = time_bomb("rotation", Duration::from_secs(60));
    let broker = start_broker(&[]);
    let mut w = Proc::spawn("worker", corsair(&["worker", "--connect", &broker.backend]));
    w.wait_for("worker ready", LONG);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let endpoints = format!("{dead},{}", broker.frontend);
    let client = Proc::spawn(
        "client",
        corsair(&[
            "client",
            "--connect",
            &endpoints,
            "--timeout",
            "300ms",
            "--retries",
            "3",
            "--requests",
            "3",
            "rotated",
        ]),
    );
    let (code, lines) = client.wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, vec!["rotated"; 3]);
    broker.stop();
}

#[test]
fn paranoid_worker_reconnects_when_the_broker_is_silent() {
    let _bomb = time_bomb("reconnect", Duration::from_secs(60));
    let mut router = Proc::spawn("silent_router.py", python("silent_router.py", &[]));
    let line = router.wait_for("bound ", LONG);
    let endpoint = line.trim_start_matches("bound ").trim().to_owned();
    let _w = Proc::spawn(
        "worker",
        corsair(&[
            "worker",
            "--connect",
            &endpoint,
            "--heartbeat",
            "100ms",
            "--liveness",
            "3",
        ]),
    );
    // READY is the one-byte frame 01; heartbeats are 02.
    let ready_from = |line: &str| -> Option<String> {
        let mut parts = line.split_whitespace();
        let (_, identity, frame) = (parts.next()?, parts.next()?, parts.next()?);
        (frame == "01" && parts.next().is_none()).then(|| identity.to_owned())
    };
    let (first, second) = loop {
        let ids: Vec<String> = router
            .lines_so_far()
            .iter()
            .filter_map(|l| ready_from(l))
            .collect();
        if let Some(second) = ids.iter().find(|id| **id != ids[0]) {
            break (ids[0].clone(), second.clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_ne!(first, second, "a new socket, so a new identity");
    let heartbeats = router
        .lines_so_far()
        .iter()
        .filter(|l| l.ends_with(" 02") && l.contains(&first))
        .count();
    assert!(
        heartbeats >= 1,
        "the first connection heartbeated before giving up"
    );
}
