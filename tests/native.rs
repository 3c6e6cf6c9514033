//! The broker's native ZMTP engine against real peers: libzmq sockets
//! with ZMTP heartbeats, Unix-socket endpoints, identities claimed twice,
//! and peers that do not speak ZMTP 3 (refused, counted, the broker
//! serves on). Every other test of the broker runs on this engine too,
//! as it is the default; `--engine libzmq` is checked here.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
// Links libzmq (built by corsair-libzmq) for the raw sockets below.
use corsair as _;

const LONG: Duration = Duration::from_secs(60);

/// Runs `corsair client` to the end: exit code and output lines.
fn client(endpoint: &str, requests: &str) -> (Option<i32>, Vec<String>) {
    Proc::spawn(
        "client",
        corsair(&["client", "--connect", endpoint, "--requests", requests]),
    )
    .wait(LONG)
}

fn worker(endpoint: &str) -> Proc {
    let mut w = Proc::spawn("worker", corsair(&["worker", "--connect", endpoint]));
    w.wait_for("worker ready", LONG);
    w
}

fn numbers(n: u32) -> Vec<String> {
    (1..=n).map(|i| i.to_string()).collect()
}

/// The number right after `label` in the broker's stop line.
fn count_after(stats: &str, label: &str) -> u64 {
    let (_, rest) = stats
        .split_once(label)
        .unwrap_or_else(|| panic!("no {label:?} in {stats}"));
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Reads until the broker closes the connection; panics if it does not
/// within the read timeout.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the broker did not close the connection: {e}"),
        }
    }
}

#[test]
fn peers_that_do_not_speak_zmtp_3_are_refused_counted_and_the_broker_serves_on() {
    let _bomb = time_bomb("foreign peers", Duration::from_secs(90));
    let mut broker = start_broker(&[]);
    broker
        .proc
        .wait_for("sockets served by the native ZMTP engine", LONG);
    // A ZMTP 2.0 peer (libzmq 3.x): signature, revision 1, DEALER.
    let mut old = raw(&broker.frontend);
    old.write_all(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5])
        .unwrap();
    let greeting = read_to_close(&mut old);
    assert_eq!(greeting.first(), Some(&0xFF), "it was greeted first");
    let logged = broker.proc.wait_for("old ZMTP peer", LONG);
    assert!(logged.contains("connection dropped"), "{logged}");
    // Not ZeroMQ at all.
    let mut http = raw(&broker.backend);
    http.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    read_to_close(&mut http);
    broker.proc.wait_for("not a ZMTP peer", LONG);
    // A ZMTP 3 peer of the wrong socket type: PUB cannot talk to ROUTER.
    let mut publisher = raw(&broker.frontend);
    publisher.write_all(&zmtp3_hello("PUB")).unwrap();
    read_to_close(&mut publisher);
    broker.proc.wait_for("a PUB socket cannot talk", LONG);

    let _w = worker(&broker.backend);
    let (code, lines) = client(&broker.frontend, "10");
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, numbers(10));
    let stats = broker.stop();
    assert_eq!(
        count_after(&stats, "connections breaking ZMTP refused "),
        3,
        "{stats}"
    );
    assert_eq!(stat(&stats, "answered"), 10, "{stats}");
}

#[test]
fn a_libzmq_peer_with_zmtp_heartbeats_is_answered_and_never_dropped() {
    let _bomb = time_bomb("zmtp heartbeats", Duration::from_secs(90));
    let broker = start_broker(&[]);
    let _w = worker(&broker.backend);
    let ctx = zmq::Context::new();
    let c = ctx.socket(zmq::DEALER).unwrap();
    c.set_linger(0).unwrap();
    // A PING every 50 ms; no PONG (or other traffic) within 200 ms would
    // make libzmq drop the connection.
    c.set_heartbeat_ivl(50).unwrap();
    c.set_heartbeat_timeout(200).unwrap();
    c.monitor(
        "inproc://heartbeat-monitor",
        zmq::SocketEvent::DISCONNECTED as i32,
    )
    .unwrap();
    let monitor = ctx.socket(zmq::PAIR).unwrap();
    monitor.connect("inproc://heartbeat-monitor").unwrap();
    c.connect(&broker.frontend).unwrap();
    for round in 0..3 {
        let body = format!("round {round}");
        c.send_multipart(["", body.as_str()], 0).unwrap();
        assert!(c.poll(zmq::POLLIN, 10_000).unwrap() > 0, "reply {round}");
        assert_eq!(c.recv_multipart(0).unwrap()[1], body.as_bytes());
        // Silence but for the heartbeats: twenty intervals.
        std::thread::sleep(Duration::from_millis(1000));
    }
    assert_eq!(
        monitor.poll(zmq::POLLIN, 0).unwrap(),
        0,
        "libzmq never dropped the connection for want of a PONG"
    );
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 3, "{stats}");
}

#[test]
fn ipc_endpoints_are_served_natively() {
    let _bomb = time_bomb("ipc", Duration::from_secs(90));
    let dir = Scratch::new("native-ipc");
    let (front, back) = (dir.ipc("front.sock"), dir.ipc("back.sock"));
    let mut proc = Proc::spawn(
        "broker",
        corsair(&["broker", "--frontend", &front, "--backend", &back]),
    );
    proc.wait_for("sockets served by the native ZMTP engine", LONG);
    let broker = BrokerProc {
        proc,
        frontend: front,
        backend: back,
    };
    let _w = worker(&broker.backend);
    let (code, lines) = client(&broker.frontend, "20");
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, numbers(20));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 20, "{stats}");
    assert!(
        !dir.join("front.sock").exists(),
        "the socket file is removed on exit"
    );
}

#[test]
fn a_second_peer_claiming_a_connected_peers_identity_is_refused() {
    let _bomb = time_bomb("identity", Duration::from_secs(90));
    let mut broker = start_broker(&[]);
    let _w = worker(&broker.backend);
    let ctx = zmq::Context::new();
    let named = || {
        let s = ctx.socket(zmq::DEALER).unwrap();
        s.set_linger(0).unwrap();
        s.set_identity(b"client-a").unwrap();
        s.connect(&broker.frontend).unwrap();
        s
    };
    let first = named();
    first.send_multipart(["", "one"], 0).unwrap();
    assert!(first.poll(zmq::POLLIN, 10_000).unwrap() > 0);
    assert_eq!(first.recv_multipart(0).unwrap()[1], b"one");
    let second = named();
    second.send_multipart(["", "stolen"], 0).unwrap();
    broker.proc.wait_for("identity already taken", LONG);
    // The first keeps its identity and its replies.
    first.send_multipart(["", "two"], 0).unwrap();
    assert!(first.poll(zmq::POLLIN, 10_000).unwrap() > 0);
    assert_eq!(first.recv_multipart(0).unwrap()[1], b"two");
    assert_eq!(
        second.poll(zmq::POLLIN, 500).unwrap(),
        0,
        "nothing for the impostor"
    );
    drop((first, second));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 2, "{stats}");
}

#[test]
fn the_libzmq_engine_serves_when_asked_for() {
    let _bomb = time_bomb("libzmq engine", Duration::from_secs(90));
    let mut broker = start_broker(&["--engine", "libzmq"]);
    broker.proc.wait_for("sockets served by libzmq", LONG);
    let _w = worker(&broker.backend);
    let (code, lines) = client(&broker.frontend, "10");
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, numbers(10));
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 10, "{stats}");
}

#[test]
fn the_native_engine_refuses_to_start_where_it_cannot_serve() {
    let _bomb = time_bomb("native refused", Duration::from_secs(30));
    let (code, lines) = Proc::spawn(
        "broker",
        corsair(&[
            "broker",
            "--engine",
            "native",
            "--frontend",
            "inproc://nowhere",
            "--backend",
            "tcp://127.0.0.1:*",
        ]),
    )
    .wait(LONG);
    assert_ne!(code, Some(0));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("native engine cannot serve") && l.contains("inproc://nowhere")),
        "{lines:?}"
    );
}
