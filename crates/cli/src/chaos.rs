//! `corsair chaos`: the promise under real faults. Starts `corsair
//! broker`, worker processes of mixed dialects (three of them drop 20% of
//! their requests), kills a random worker with SIGKILL at an interval and
//! starts it again, while clients send numbered requests; then checks
//! that every request got exactly one answer (its own) or one failure
//! reply. Last line: `sent=S answered=A failed=F lost=L duplicated=D`.

use std::collections::HashMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use corsair::zmq;
use rand::Rng;

use crate::args;
use crate::procs::{self, BrokerProcess};

/// Options of `corsair chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Requests to send in all.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    requests: u64,
    /// Worker processes (at least 3; three of them drop 20%).
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u64).range(3..))]
    workers: u64,
    /// Time between SIGKILLs to a random worker.
    #[arg(long, default_value = "500ms", value_name = "DUR", value_parser = args::duration)]
    kill_every: Duration,
    /// Client connections (each keeps 16 requests in flight).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
}

/// The dialect of worker `i`: Paranoid Pirate, Simple Pirate and
/// Majordomo 0.1 and 0.2 in turn, all serving the default service.
fn worker_args(i: u64, backend: &str) -> Vec<String> {
    let dialect = ["ppp", "simple", "mdp", "mdp2"][(i % 4) as usize];
    let mut args: Vec<String> = ["worker", "--connect", backend, "--dialect", dialect]
        .map(String::from)
        .to_vec();
    if dialect.starts_with("mdp") {
        args.extend(["--service".into(), "default".into()]);
    }
    if i < 3 {
        args.extend(["--drop".into(), "0.2".into()]);
    }
    args
}

fn spawn_worker(i: u64, backend: &str) -> anyhow::Result<Child> {
    let args = worker_args(i, backend);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    procs::corsair(&refs)
}

/// What every client saw, by request number.
#[derive(Default)]
struct Tally {
    /// Request number -> (answers, failure replies).
    ends: Mutex<HashMap<u64, (u32, u32)>>,
    /// Answers whose body was not the request's own.
    wrong: AtomicU64,
    sent: AtomicU64,
}

const WINDOW: u64 = 16;

/// One client: a DEALER speaking the plain dialect with a tag envelope
/// (the request number), `WINDOW` requests in flight, until its share is
/// sent and answered or `give_up` passes.
fn client(
    ctx: &zmq::Context,
    endpoint: &str,
    numbers: std::ops::Range<u64>,
    tally: &Tally,
    give_up: &AtomicBool,
) -> zmq::Result<()> {
    let socket = ctx.socket(zmq::DEALER)?;
    socket.set_linger(0)?;
    socket.connect(endpoint)?;
    let mut next = numbers.start;
    let mut outstanding = 0u64;
    let send = |n: u64| -> zmq::Result<()> {
        let body = format!("req-{n}");
        socket.send_multipart([&n.to_be_bytes()[..], b"", body.as_bytes()], 0)
    };
    while (next < numbers.end || outstanding > 0) && !give_up.load(Ordering::Relaxed) {
        while outstanding < WINDOW && next < numbers.end {
            send(next)?;
            tally.sent.fetch_add(1, Ordering::Relaxed);
            next += 1;
            outstanding += 1;
        }
        if socket.poll(zmq::POLLIN, 100)? == 0 {
            continue;
        }
        let frames = socket.recv_multipart(0)?;
        let Some(n) = frames
            .first()
            .and_then(|t| <[u8; 8]>::try_from(&t[..]).ok())
            .map(u64::from_be_bytes)
        else {
            tally.wrong.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let body = frames.get(2).map(Vec::as_slice).unwrap_or_default();
        let mut ends = tally.ends.lock().expect("tally");
        let entry = ends.entry(n).or_default();
        if entry.0 + entry.1 == 0 {
            outstanding = outstanding.saturating_sub(1);
        }
        if body.is_empty() {
            entry.1 += 1;
        } else {
            entry.0 += 1;
            if body != format!("req-{n}").as_bytes() {
                tally.wrong.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// Runs the chaos and prints the counts; an error if any request was
/// lost or answered twice.
pub fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let broker = BrokerProcess::start(&[
        "--max-attempts",
        "5",
        "--attempt-timeout",
        "1s",
        "--wait-limit",
        "20s",
        "--queue-limit",
        "1000000",
    ])?;
    let mut workers: Vec<Child> = (0..args.workers)
        .map(|i| spawn_worker(i, &broker.backend))
        .collect::<anyhow::Result<_>>()?;
    thread::sleep(Duration::from_millis(500));
    println!(
        "corsair chaos: broker at {}, {} workers (ppp, simple, mdp, mdp2 in turn; workers 0-2 drop 20%), a SIGKILL every {:?}, {} requests from {} clients",
        broker.frontend, args.workers, args.kill_every, args.requests, args.clients
    );
    let tally = Arc::new(Tally::default());
    let give_up = Arc::new(AtomicBool::new(false));
    let ctx = zmq::Context::new();
    let per = args.requests.div_ceil(args.clients);
    let handles: Vec<_> = (0..args.clients)
        .map(|c| {
            let (ctx, tally, give_up) = (ctx.clone(), tally.clone(), give_up.clone());
            let endpoint = broker.frontend.clone();
            let numbers = (c * per).min(args.requests)..((c + 1) * per).min(args.requests);
            thread::spawn(move || client(&ctx, &endpoint, numbers, &tally, &give_up))
        })
        .collect();
    let started = Instant::now();
    // Long enough for every attempt of the last request, then some.
    let limit = Duration::from_secs(60) + Duration::from_millis(args.requests);
    let mut kills = 0u64;
    let mut rng = rand::thread_rng();
    let mut next_kill = Instant::now() + args.kill_every;
    while !handles.iter().all(|h| h.is_finished()) {
        if started.elapsed() > limit {
            give_up.store(true, Ordering::Relaxed);
            break;
        }
        if Instant::now() >= next_kill {
            let i = rng.gen_range(0..workers.len());
            let _ = workers[i].kill();
            let _ = workers[i].wait();
            workers[i] = spawn_worker(i as u64, &broker.backend)?;
            kills += 1;
            next_kill += args.kill_every;
        }
        thread::sleep(Duration::from_millis(10));
    }
    for h in handles {
        h.join().expect("client thread")?;
    }
    let elapsed = started.elapsed();
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let clean = broker.stop()?;
    let ends = tally.ends.lock().expect("tally");
    let sent = tally.sent.load(Ordering::Relaxed);
    let answered = ends.values().filter(|(a, f)| *a >= 1 && *f == 0).count() as u64;
    let failed = ends.values().filter(|(a, f)| *a == 0 && *f >= 1).count() as u64;
    let duplicated = ends.values().filter(|(a, f)| a + f > 1).count() as u64;
    let lost = sent.saturating_sub(ends.len() as u64);
    let wrong = tally.wrong.load(Ordering::Relaxed);
    println!(
        "{kills} workers killed and restarted in {:.1} s; broker exit {}; answers with a wrong body: {wrong}",
        elapsed.as_secs_f64(),
        if clean { "clean" } else { "NOT clean" }
    );
    println!("sent={sent} answered={answered} failed={failed} lost={lost} duplicated={duplicated}");
    if lost > 0 || duplicated > 0 || wrong > 0 {
        bail!("the promise was broken: {lost} lost, {duplicated} duplicated, {wrong} wrong");
    }
    Ok(())
}
