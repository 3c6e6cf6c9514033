//! `corsair demo`: the whole system in one process.
//!
//! A broker, four workers (two steady ones of different dialects, one
//! dropping 10% of requests, one crashing now and then and restarted)
//! and clients sending numbered requests. Every request must end
//! answered (with its own body echoed) or definitely failed; `lost`
//! counts those that ended any other way and must be 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use corsair::core::{BrokerConfig, HeartbeatConfig, LivenessConfig, RetryPolicy};
use corsair::proto::MdpVersion;
use corsair::{
    Broker, BrokerEndpoints, Bytes, Client, ClientError, Shutdown, Worker, WorkerDialect,
    WorkerOptions,
};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args;
use crate::worker::{Behaviour, Outcome};

/// Options of `corsair demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Requests to send in all.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    requests: u64,
    /// Concurrent clients (Lazy Pirate; every other one speaks Majordomo 0.1).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
    /// Broker attempt timeout.
    #[arg(long, default_value = "250ms", value_name = "DUR", value_parser = args::duration)]
    attempt_timeout: Duration,
    /// Fraction of requests the dropping worker never answers.
    #[arg(long, default_value = "0.1", value_name = "P", value_parser = args::probability)]
    drop: f64,
    /// Probability per request that the crashing worker dies.
    #[arg(long, default_value = "0.02", value_name = "P", value_parser = args::probability)]
    crash: f64,
}

#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    failed: AtomicU64,
    lost: AtomicU64,
    wrong: AtomicU64,
}

struct WorkerPlan {
    name: &'static str,
    dialect: WorkerDialect,
    behaviour: Behaviour,
}

/// Runs the demo; fails when any request was lost.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let stop = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    let heartbeat = Duration::from_millis(250);
    let config = BrokerConfig {
        attempt_timeout: Some(args.attempt_timeout),
        heartbeat: HeartbeatConfig {
            interval: heartbeat,
            liveness: 3,
        },
        mdp_heartbeat: HeartbeatConfig {
            interval: heartbeat,
            liveness: 3,
        },
        ..BrokerConfig::default()
    };
    let max_attempts = config.max_attempts.unwrap_or(u32::MAX);
    let any = || "tcp://127.0.0.1:0".to_owned();
    let endpoints = BrokerEndpoints {
        frontend: any(),
        backend: Some(any()),
        fetch: Some((any(), any())),
    };
    let mut broker =
        Broker::bind_endpoints(&ctx, &endpoints, config).context("cannot start the demo broker")?;
    let frontend = broker.frontend_endpoint().to_owned();
    let backend = broker.backend_endpoint().to_owned();
    let fetch = broker.fetch_endpoint().expect("bound").to_owned();
    let answers = broker.answers_endpoint().expect("bound").to_owned();
    let broker_stop = stop.child();
    let broker_thread = {
        let s = broker_stop.clone();
        thread::spawn(move || broker.run(&s))
    };

    let plans = vec![
        WorkerPlan {
            name: "steady (Paranoid Pirate)",
            dialect: WorkerDialect::Paranoid,
            behaviour: Behaviour::default(),
        },
        WorkerPlan {
            name: "steady (Simple Pirate)",
            dialect: WorkerDialect::Simple,
            behaviour: Behaviour::default(),
        },
        WorkerPlan {
            name: "dropper (Paranoid Pirate)",
            dialect: WorkerDialect::Paranoid,
            behaviour: Behaviour {
                drop: args.drop,
                ..Behaviour::default()
            },
        },
        WorkerPlan {
            name: "crasher (Paranoid Pirate)",
            dialect: WorkerDialect::Paranoid,
            behaviour: Behaviour {
                crash: args.crash,
                ..Behaviour::default()
            },
        },
        WorkerPlan {
            name: "steady (Majordomo 0.1)",
            dialect: WorkerDialect::Mdp(MdpVersion::V01),
            behaviour: Behaviour::default(),
        },
        WorkerPlan {
            name: "steady (classic fetch worker)",
            dialect: WorkerDialect::Fetch,
            behaviour: Behaviour::default(),
        },
        WorkerPlan {
            name: "dropper (Majordomo 0.2)",
            dialect: WorkerDialect::Mdp(MdpVersion::V02),
            behaviour: Behaviour {
                drop: args.drop,
                ..Behaviour::default()
            },
        },
    ];
    let workers_stop = stop.child();
    let restarts = Arc::new(AtomicU64::new(0));
    let mut names = Vec::new();
    let mut worker_threads = Vec::new();
    for plan in plans {
        names.push(plan.name);
        let mut options = match plan.dialect {
            WorkerDialect::Fetch => WorkerOptions::fetch(&fetch, &answers),
            dialect => WorkerOptions {
                dialect,
                ..WorkerOptions::paranoid(&backend)
            },
        };
        options.liveness = LivenessConfig {
            heartbeat,
            ..LivenessConfig::default()
        };
        // Majordomo workers name the service plain clients use.
        options.service = Bytes::from_static(b"default");
        let (ctx, parent, restarts) = (ctx.clone(), workers_stop.clone(), restarts.clone());
        worker_threads.push(thread::spawn(move || {
            run_worker(&ctx, options, plan.behaviour, &parent, &restarts)
        }));
    }

    let bar = ProgressBar::new(args.requests);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} requests {per_sec} {elapsed}")
            .expect("valid template"),
    );
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut client_threads = Vec::new();
    for c in 0..args.clients {
        let share = args.requests / args.clients + u64::from(c < args.requests % args.clients);
        let (ctx, stop, tally, bar, frontend) = (
            ctx.clone(),
            stop.clone(),
            tally.clone(),
            bar.clone(),
            frontend.clone(),
        );
        client_threads.push(thread::spawn(move || {
            let policy = RetryPolicy {
                timeout: Duration::from_secs(5),
                retries: Some(3),
            };
            let mut client = Client::new(&ctx, vec![frontend], policy);
            if c % 2 == 1 {
                // Every other client speaks Majordomo 0.1 to the same service.
                client = client.with_service("default");
            }
            let mut hist = Histogram::<u64>::new(3).expect("valid precision");
            for n in 0..share {
                let body = Bytes::from(format!("client-{c} request-{n}"));
                let t = Instant::now();
                match client.request(vec![body.clone()], &stop) {
                    Ok(reply) if reply == [body] => {
                        tally.answered.fetch_add(1, Ordering::Relaxed);
                        hist.saturating_record(t.elapsed().as_micros() as u64);
                    }
                    Ok(_) => {
                        tally.wrong.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(ClientError::Failed { .. }) => {
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(ClientError::Shutdown) => break,
                    Err(e) => {
                        tally.lost.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(error = %e, "request lost");
                    }
                }
                bar.inc(1);
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new(3).expect("valid precision");
    for t in client_threads {
        hist.add(t.join().expect("client thread"))
            .expect("same precision");
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    workers_stop.trigger();
    for t in worker_threads {
        t.join().expect("worker thread")?;
    }
    broker_stop.trigger();
    let stats = broker_thread.join().expect("broker thread")?;

    let answered = tally.answered.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let lost = tally.lost.load(Ordering::Relaxed) + tally.wrong.load(Ordering::Relaxed);
    let sent = answered + failed + lost;
    println!(
        "corsair demo: {sent} requests from {} clients (plain and Majordomo 0.1), one broker ({max_attempts} attempts of {:?}), {} workers:",
        args.clients, args.attempt_timeout, names.len()
    );
    for name in &names {
        println!("  - {name}");
    }
    println!(
        "  the crasher was restarted {} times",
        restarts.load(Ordering::Relaxed)
    );
    println!();
    let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
    let rows = [
        ("sent", sent.to_string()),
        ("answered", answered.to_string()),
        ("attempts retried", stats.retried.to_string()),
        ("definite failures", failed.to_string()),
        ("lost", lost.to_string()),
        ("latency p50", ms(hist.value_at_quantile(0.50))),
        ("latency p99", ms(hist.value_at_quantile(0.99))),
        ("elapsed", format!("{:.2} s", elapsed.as_secs_f64())),
    ];
    println!("| {:<18} | {:>10} |", "metric", "value");
    println!("|{:-<20}|{:->12}|", "", "");
    for (k, v) in rows {
        println!("| {k:<18} | {v:>10} |");
    }
    if stop.is_triggered() {
        bail!("interrupted");
    }
    if lost > 0 {
        bail!("{lost} requests were lost");
    }
    Ok(())
}

/// Runs one demo worker; a crash ends its connection abruptly and a new
/// worker (new identity) takes its place, until `parent` stops.
fn run_worker(
    ctx: &corsair::zmq::Context,
    options: WorkerOptions,
    behaviour: Behaviour,
    parent: &Shutdown,
    restarts: &AtomicU64,
) -> anyhow::Result<()> {
    let mut rng = rand::thread_rng();
    loop {
        let life = parent.child();
        let mut worker = Worker::new(ctx, options.clone());
        worker.run(
            |body| match behaviour.apply(&mut rng, body) {
                Outcome::Answer(reply) => Some(reply),
                Outcome::Drop => None,
                Outcome::Crash => {
                    life.trigger();
                    None
                }
            },
            &life,
        )?;
        if parent.is_triggered() {
            return Ok(());
        }
        restarts.fetch_add(1, Ordering::Relaxed);
    }
}
