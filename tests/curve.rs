//! Issue 9: CURVE encryption and authentication, and limits per peer.
//! Keys come from `corsair keygen`; the broker, workers and clients are
//! `corsair` processes, plus a pyzmq CURVE client (tests/peers/
//! reqclient.py) and raw libzmq DEALERs for the size and count limits.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const LONG: Duration = Duration::from_secs(60);

/// Key pairs made with `corsair keygen` in a fresh directory, and the two
/// allow-lists: a file with the client's key, a directory with the
/// worker's.
struct Keys {
    dir: Scratch,
}

impl Keys {
    fn new(name: &str) -> Keys {
        let dir = Scratch::new(&format!("curve-{name}"));
        std::fs::create_dir_all(dir.join("workers")).unwrap();
        for who in ["server", "client", "worker", "stranger"] {
            let out = dir.join(who);
            let (code, lines) = Proc::spawn(
                "keygen",
                corsair(&["keygen", "--out", out.to_str().unwrap()]),
            )
            .wait(LONG);
            assert_eq!(code, Some(0), "{lines:?}");
        }
        std::fs::copy(dir.join("client.pub"), dir.join("clients.txt")).unwrap();
        std::fs::copy(dir.join("worker.pub"), dir.join("workers/worker.pub")).unwrap();
        Keys { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// `--server-key S --curve-key OWN.secret`
    fn peer(&self, own: &str) -> Vec<String> {
        vec![
            "--server-key".into(),
            self.path("server.pub"),
            "--curve-key".into(),
            self.path(&format!("{own}.secret")),
        ]
    }

    fn broker_flags(&self) -> Vec<String> {
        vec![
            "--curve-secret-key".into(),
            self.path("server.secret"),
            "--allow-clients".into(),
            self.path("clients.txt"),
            "--allow-workers".into(),
            self.path("workers"),
        ]
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn worker(endpoint: &str, flags: &[&str], curve: &[String]) -> Proc {
    let mut args = vec!["worker", "--connect", endpoint];
    args.extend_from_slice(flags);
    args.extend(strs(curve));
    Proc::spawn("worker", corsair(&args))
}

/// Runs `corsair client` to the end: exit code and output lines.
fn client(endpoint: &str, flags: &[&str], curve: &[String]) -> (Option<i32>, Vec<String>) {
    let mut args = vec!["client", "--connect", endpoint];
    args.extend_from_slice(flags);
    args.extend(strs(curve));
    Proc::spawn("client", corsair(&args)).wait(LONG)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn keygen_writes_one_z85_key_a_file_and_a_private_secret() {
    let _bomb = time_bomb("keygen", LONG);
    let keys = Keys::new("keygen");
    for who in ["server", "client"] {
        let public = read(&keys.dir.join(format!("{who}.pub")));
        let secret = read(&keys.dir.join(format!("{who}.secret")));
        for key in [&public, &secret] {
            assert_eq!(key.len(), 41, "40 characters and a newline: {key:?}");
            assert!(key.ends_with('\n') && key.trim().len() == 40);
        }
        assert_eq!(
            corsair::security::KeyPair::from_secret(secret.trim())
                .unwrap()
                .public,
            public.trim(),
            "the public file holds the secret's public half"
        );
        let mode = std::fs::metadata(keys.dir.join(format!("{who}.secret")))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
    assert_ne!(
        read(&keys.dir.join("server.pub")),
        read(&keys.dir.join("client.pub"))
    );
}

#[test]
fn every_dialect_round_trips_encrypted_with_allowed_keys() {
    let _bomb = time_bomb("curve round trips", Duration::from_secs(120));
    let keys = Keys::new("dialects");
    let broker = start_broker(&strs(&keys.broker_flags()));
    let _ppp = worker(&broker.backend, &[], &keys.peer("worker"));
    let _mdp = worker(
        &broker.backend,
        &["--dialect", "mdp", "--service", "echo"],
        &keys.peer("worker"),
    );
    let _mdp2 = worker(
        &broker.backend,
        &["--dialect", "mdp2", "--service", "echo2"],
        &keys.peer("worker"),
    );
    for flags in [
        vec!["--requests", "2"],
        vec!["--requests", "2", "--service", "echo"],
        vec!["--requests", "2", "--dialect", "mdp2", "--service", "echo2"],
    ] {
        let (code, lines) = client(&broker.frontend, &flags, &keys.peer("client"));
        assert_eq!(code, Some(0), "{flags:?}: {lines:?}");
        assert_eq!(lines, ["1", "2"], "{flags:?}");
    }
    let mut py = vec![
        broker.frontend.clone(),
        "2".into(),
        "--name".into(),
        "py".into(),
    ];
    py.extend(keys.peer("client"));
    let (code, lines) =
        Proc::spawn("pyzmq curve client", python("reqclient.py", &strs(&py))).wait(LONG);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, ["answer py-1 py-1", "answer py-2 py-2"]);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "answered"), 8, "{stats}");
    assert_eq!(count_after(&stats, ", refused "), 0, "{stats}");
}

#[test]
fn unknown_keys_plain_text_peers_and_client_keys_on_the_worker_socket_are_refused() {
    let _bomb = time_bomb("curve refusals", Duration::from_secs(120));
    let keys = Keys::new("refusals");
    let mut flags = keys.broker_flags();
    flags.extend(["--wait-limit".into(), "1s".into()]);
    let mut broker = start_broker(&strs(&flags));
    let quick = ["--timeout", "500ms", "--retries", "1"];
    // A key nobody listed, and no CURVE at all: no reply ever comes.
    let (code, lines) = client(&broker.frontend, &quick, &keys.peer("stranger"));
    assert_ne!(code, Some(0), "{lines:?}");
    let (code, lines) = client(&broker.frontend, &quick, &[]);
    assert_ne!(code, Some(0), "{lines:?}");
    // A worker holding the client's key cannot register: the allowed
    // client's request finds no worker and fails at the wait limit.
    let _w = worker(&broker.backend, &[], &keys.peer("client"));
    std::thread::sleep(Duration::from_millis(500));
    let (code, lines) = client(&broker.frontend, &["--retries", "0"], &keys.peer("client"));
    assert_eq!(code, Some(0), "{lines:?}");
    assert!(lines[0].starts_with("failure"), "{lines:?}");
    let refusal = broker.proc.wait_for("peer refused", LONG);
    assert!(
        refusal.contains("127.0.0.1"),
        "logged with the address: {refusal}"
    );
    let stats = broker.stop();
    assert_eq!(stat(&stats, "wait_expired"), 1, "{stats}");
    let refused = count_after(&stats, ", refused ");
    assert!(
        refused >= 2,
        "the stranger and the worker with a client's key: {stats}"
    );
}

#[test]
fn oversized_messages_lose_their_connection_and_requests_over_the_client_limit_fail_at_once() {
    limits("native");
}

#[test]
fn the_same_limits_hold_on_the_libzmq_engine() {
    limits("libzmq");
}

fn limits(engine: &str) {
    let _bomb = time_bomb("limits", Duration::from_secs(90));
    let mut broker = start_broker(&[
        "--max-message-size",
        "1000",
        "--max-client-requests",
        "2",
        "--engine",
        engine,
    ]);
    let ctx = zmq::Context::new();
    let dealer = |ctx: &zmq::Context| {
        let s = ctx.socket(zmq::DEALER).unwrap();
        s.set_linger(0).unwrap();
        s.connect(&broker.frontend).unwrap();
        s
    };
    // Three requests, no worker yet: the third is over the limit of two.
    let c = dealer(&ctx);
    for body in ["a", "b", "c"] {
        c.send_multipart(["", body], 0).unwrap();
    }
    assert!(
        c.poll(zmq::POLLIN, 5000).unwrap() > 0,
        "failure reply at once"
    );
    assert_eq!(c.recv_multipart(0).unwrap(), [b"".to_vec(), b"".to_vec()]);
    // A worker comes and answers the two that were taken.
    let _w = worker(&broker.backend, &[], &[]);
    let mut answers = Vec::new();
    for _ in 0..2 {
        assert!(c.poll(zmq::POLLIN, 10_000).unwrap() > 0, "answer");
        answers.push(c.recv_multipart(0).unwrap()[1].clone());
    }
    answers.sort();
    assert_eq!(answers, [b"a".to_vec(), b"b".to_vec()]);
    // Over the message size: the engine drops the connection; no reply,
    // nothing reaches the worker, and the broker counts it.
    let big = dealer(&ctx);
    big.send_multipart([vec![], vec![b'x'; 5000]], 0).unwrap();
    assert_eq!(big.poll(zmq::POLLIN, 1500).unwrap(), 0, "no reply to it");
    let logged = broker.proc.wait_for("message over the size limit", LONG);
    assert!(logged.contains(&broker.frontend), "{logged}");
    // The broker serves on.
    let (code, lines) = client(&broker.frontend, &["--requests", "2"], &[]);
    assert_eq!(code, Some(0), "{lines:?}");
    assert_eq!(lines, ["1", "2"]);
    let stats = broker.stop();
    assert_eq!(stat(&stats, "rejected_client_limit"), 1, "{stats}");
    assert_eq!(stat(&stats, "answered"), 4, "{stats}");
    assert_eq!(
        stat(&stats, "accepted"),
        5,
        "the oversized one never accepted: {stats}"
    );
    assert_eq!(
        count_after(&stats, "oversized messages refused "),
        1,
        "{stats}"
    );
}

/// The number right after `label` in the broker's stop line.
fn count_after(stats: &str, label: &str) -> u64 {
    stats
        .split_once(label)
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {label:?} count in {stats}"))
}
