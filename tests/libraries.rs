//! Issues 2 and 3: client and worker library behaviour against real
//! peers: endpoint rotation in the Lazy Pirate client, the Paranoid
//! Pirate worker's reconnect when its broker falls silent, the MDP/0.2
//! `AsyncClient` with many requests in flight, its failure and timeout
//! events, and a Majordomo worker re-registering after DISCONNECT.

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

/// A broker, `n` in-process echo workers of `options`, run until `stop`.
fn in_process_system(
    ctx: &corsair::zmq::Context,
    stop: &corsair::Shutdown,
    config: corsair::core::BrokerConfig,
    workers: Vec<corsair::WorkerOptions>,
) -> (String, Vec<std::thread::JoinHandle<()>>) {
    let any = "tcp://127.0.0.1:0";
    let mut broker = corsair::Broker::bind(ctx, any, any, config).unwrap();
    let front = broker.frontend_endpoint().to_owned();
    let back = broker.backend_endpoint().to_owned();
    let mut threads = vec![{
        let stop = stop.clone();
        std::thread::spawn(move || {
            broker.run(&stop).unwrap();
        })
    }];
    for mut options in workers {
        options.endpoint = back.clone();
        let (ctx, stop) = (ctx.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            corsair::Worker::new(&ctx, options)
                .run(Some, &stop)
                .unwrap();
        }));
    }
    (front, threads)
}

#[test]
fn async_client_keeps_many_requests_in_flight_and_matches_replies() {
    use corsair::proto::MdpVersion;
    use corsair::{AsyncClient, Bytes, Event, WorkerOptions};
    let _bomb = time_bomb("async_client", Duration::from_secs(60));
    let ctx = corsair::zmq::Context::new();
    let stop = corsair::Shutdown::new();
    let workers = vec![
        WorkerOptions::mdp("", MdpVersion::V02, "echo"),
        WorkerOptions::mdp("", MdpVersion::V01, "echo"),
    ];
    let (front, threads) =
        in_process_system(&ctx, &stop, corsair::core::BrokerConfig::default(), workers);
    let mut client = AsyncClient::connect(&ctx, &front, Duration::from_secs(20)).unwrap();
    let mut sent = std::collections::HashMap::new();
    for i in 0..200 {
        let body = Bytes::from(format!("req-{i}"));
        let tag = client.send(b"echo", vec![body.clone()]).unwrap();
        sent.insert(tag, body);
    }
    assert_eq!(client.in_flight(), 200);
    while !sent.is_empty() {
        match client.poll(Duration::from_secs(20)).unwrap() {
            Some(Event::Reply { tag, body }) => {
                let expected = sent.remove(&tag).expect("a tag sent and not yet answered");
                assert_eq!(body, vec![expected]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((client.in_flight(), client.malformed()), (0, 0));
    stop.trigger();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn async_client_reports_failure_and_timeout_apart() {
    use corsair::core::BrokerConfig;
    use corsair::{AsyncClient, Bytes, Event};
    let _bomb = time_bomb("async_failure", Duration::from_secs(60));
    let ctx = corsair::zmq::Context::new();
    let stop = corsair::Shutdown::new();
    let config = BrokerConfig {
        wait_limit: Some(Duration::from_millis(200)),
        ..BrokerConfig::default()
    };
    let (front, threads) = in_process_system(&ctx, &stop, config, vec![]);
    let mut client = AsyncClient::connect(&ctx, &front, Duration::from_secs(20)).unwrap();
    let tag = client.send(b"nobody", vec![Bytes::from("x")]).unwrap();
    match client.poll(Duration::from_secs(20)).unwrap() {
        Some(Event::Failed { tag: t, reason }) => {
            assert_eq!(t, tag);
            assert!(reason.starts_with("no worker took the request"), "{reason}");
        }
        other => panic!("expected the failure reply, got {other:?}"),
    }
    // A broker that never answers: the request times out on the client.
    let silent = ctx.socket(corsair::zmq::ROUTER).unwrap();
    silent.bind("tcp://127.0.0.1:*").unwrap();
    let ep = silent.get_last_endpoint().unwrap().unwrap();
    let mut client = AsyncClient::connect(&ctx, &ep, Duration::from_millis(200)).unwrap();
    let tag = client.send(b"echo", vec![Bytes::from("x")]).unwrap();
    assert_eq!(
        client.poll(Duration::from_secs(20)).unwrap(),
        Some(Event::TimedOut { tag })
    );
    stop.trigger();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn mdp_worker_told_to_disconnect_registers_again_on_a_new_socket() {
    use corsair::proto::MdpVersion;
    use corsair::{Worker, WorkerOptions};
    let _bomb = time_bomb("mdp_disconnect", Duration::from_secs(60));
    let ctx = corsair::zmq::Context::new();
    let stop = corsair::Shutdown::new();
    let any = "tcp://127.0.0.1:0";
    let mut broker =
        corsair::Broker::bind(&ctx, any, any, corsair::core::BrokerConfig::default()).unwrap();
    let back = broker.backend_endpoint().to_owned();
    let b = {
        let stop = stop.clone();
        std::thread::spawn(move || broker.run(&stop).unwrap())
    };
    // The broker refuses `mmi.*` registrations with DISCONNECT; the worker
    // must close and register again on a new socket each time.
    let worker_stop = stop.child();
    let w = {
        let (ctx, s) = (ctx.clone(), worker_stop.clone());
        let options = WorkerOptions::mdp(&back, MdpVersion::V01, "mmi.bad");
        std::thread::spawn(move || Worker::new(&ctx, options).run(Some, &s).unwrap())
    };
    std::thread::sleep(Duration::from_millis(500));
    worker_stop.trigger();
    let stats = w.join().unwrap();
    assert!(stats.reconnects >= 2, "{stats:?}");
    stop.trigger();
    let broker_stats = b.join().unwrap();
    assert!(broker_stats.workers_refused >= 2, "{broker_stats:?}");
    assert_eq!(broker_stats.workers_lost, 0);
}
