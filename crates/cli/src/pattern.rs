//! `corsair pattern`: each basic socket pattern run inside one process,
//! printing what flowed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use corsair::patterns::pipeline::{self, PipelineEndpoints, Sink, Ventilator};
use corsair::patterns::pubsub::{self, WeatherServer};
use corsair::patterns::reqrep::{hello_client, HelloServer};
use corsair::Shutdown;

/// The patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pattern {
    /// REQ/REP: hello -> world.
    Reqrep,
    /// PUB/SUB: weather updates, a filter, a late joiner and a slow reader.
    Pubsub,
    /// PUSH/PULL: ventilator -> workers -> sink.
    Pipeline,
}

/// Options of `corsair pattern`.
#[derive(Debug, Args)]
pub struct PatternArgs {
    /// Which pattern.
    #[arg(value_enum)]
    pattern: Pattern,
    /// Workers (pipeline).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    workers: u64,
    /// Tasks (pipeline), requests (reqrep) or updates (pubsub).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    tasks: Option<u64>,
}

const LOOPBACK: &str = "tcp://127.0.0.1:0";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the chosen pattern.
pub fn run(args: PatternArgs) -> anyhow::Result<()> {
    let stop = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    match args.pattern {
        Pattern::Reqrep => reqrep(&ctx, args.tasks.unwrap_or(5), &stop),
        Pattern::Pubsub => pubsub(&ctx, args.tasks.unwrap_or(10_000), &stop),
        Pattern::Pipeline => pipeline(&ctx, args.workers, args.tasks.unwrap_or(100), &stop),
    }
}

fn reqrep(ctx: &corsair::zmq::Context, count: u64, stop: &Shutdown) -> anyhow::Result<()> {
    let server = HelloServer::bind(ctx, LOOPBACK)?;
    println!(
        "REQ/REP: a REP server on {}, one REQ client",
        server.endpoint()
    );
    let endpoint = server.endpoint().to_owned();
    let s = stop.clone();
    let t = thread::spawn(move || server.run(&s, Some(count), |req| println!("  server <- {req}")));
    let replies = hello_client(ctx, &endpoint, count as u32, TIMEOUT, stop)?;
    for r in &replies {
        println!("  client <- {r}");
    }
    let answered = t.join().expect("server thread")?;
    println!(
        "{answered} requests, {} replies, all World: {}",
        replies.len(),
        replies.iter().all(|r| r == "World")
    );
    Ok(())
}

fn pubsub(ctx: &corsair::zmq::Context, updates: u64, stop: &Shutdown) -> anyhow::Result<()> {
    // 1. A filter: only one zipcode's updates arrive.
    let mut server = WeatherServer::bind(ctx, LOOPBACK, 1000)?;
    let endpoint = server.endpoint().to_owned();
    println!("PUB/SUB: a weather station on {endpoint}");
    let sub = pubsub::subscriber(ctx, &endpoint, &pubsub::filter(10001), 1000)?;
    let s = stop.child();
    let publisher = {
        let s = s.clone();
        thread::spawn(move || server.run(&s, None, Some(Duration::from_micros(50))))
    };
    let report = pubsub::collect(&sub, 20, TIMEOUT, None, stop)?;
    s.trigger();
    publisher.join().expect("publisher thread")?;
    println!(
        "  filter \"10001 \": {} updates, zipcodes seen {:?}, average temperature {:.1}",
        report.updates, report.zipcodes, report.average_temperature
    );

    // 2. The slow joiner: a subscriber that connects just as the publisher
    // starts misses what was sent before its subscription arrived.
    let mut server = WeatherServer::bind(ctx, LOOPBACK, 100_000)?;
    let late = pubsub::subscriber(ctx, server.endpoint(), "", 100_000)?;
    server.run(stop, Some(updates), None)?;
    let report = pubsub::collect(&late, updates, Duration::from_millis(500), None, stop)
        .or_else(|_| Ok::<_, anyhow::Error>(Default::default()))?;
    let missed = updates - report.updates;
    println!(
        "  late joiner: connected as {updates} updates were published at full speed; received {}, missed {missed} (first seq {:?})",
        report.updates, report.first_seq
    );

    // 3. The high-water mark: a subscriber reading slower than the
    // publisher sends loses what overflows its queues.
    let mut server = WeatherServer::bind(ctx, LOOPBACK, 100)?;
    let slow = pubsub::subscriber(ctx, server.endpoint(), "", 100)?;
    // Wait until the subscription is in place (so nothing is lost to the
    // slow joiner this time): publish until the first update arrives.
    let first = loop {
        server.publish()?;
        if let Ok(r) = pubsub::collect(&slow, 1, Duration::from_millis(10), None, stop) {
            break r.first_seq.unwrap_or(0);
        }
    };
    let start = server.published();
    for _ in 0..updates {
        server.publish()?;
    }
    let report = pubsub::collect(
        &slow,
        updates,
        Duration::from_millis(500),
        Some(Duration::from_micros(20)),
        stop,
    )?;
    let sent = server.published() - start;
    let received = report.updates.min(sent);
    println!(
        "  slow reader (high-water mark 100 each side): {sent} published after it subscribed (at seq {first}), received {received}, dropped {}",
        sent.saturating_sub(received)
    );
    println!("Why: PUB never waits for subscribers. A subscription reaches the publisher a moment after connect (the slow joiner), and a subscriber that falls behind by more than its high-water marks loses messages. Synchronise (e.g. a REQ/REP handshake) when every message matters.");
    Ok(())
}

fn pipeline(
    ctx: &corsair::zmq::Context,
    workers: u64,
    tasks: u64,
    stop: &Shutdown,
) -> anyhow::Result<()> {
    let sink = Sink::bind(ctx, LOOPBACK, LOOPBACK, LOOPBACK)?;
    let ventilator = Ventilator::bind(ctx, LOOPBACK)?;
    let (results, control, kill) = sink.endpoints();
    let endpoints = PipelineEndpoints {
        tasks: ventilator.endpoint().to_owned(),
        results: results.to_owned(),
        control: control.to_owned(),
        kill: kill.to_owned(),
    };
    println!(
        "PUSH/PULL: ventilator {} -> {workers} workers -> sink {}",
        endpoints.tasks, endpoints.results
    );
    let counts: Vec<Arc<AtomicU64>> = (0..workers).map(|_| Arc::default()).collect();
    let worker_threads: Vec<_> = counts
        .iter()
        .map(|count| {
            let (ctx, endpoints, stop, count) =
                (ctx.clone(), endpoints.clone(), stop.clone(), count.clone());
            thread::spawn(move || {
                pipeline::worker(&ctx, &endpoints, &stop, |_| {
                    count.fetch_add(1, Ordering::Relaxed);
                })
            })
        })
        .collect();
    let sink_thread = {
        let stop = stop.clone();
        thread::spawn(move || sink.run(TIMEOUT, &stop))
    };
    let batch = pipeline::batch(tasks, 10);
    ventilator
        .run(ctx, &endpoints.control, &batch, TIMEOUT, stop)
        .context("ventilator")?;
    let report = sink_thread.join().expect("sink thread")?;
    for t in worker_threads {
        t.join().expect("worker thread")?;
    }
    for (i, c) in counts.iter().enumerate() {
        println!("  worker {}: {} tasks", i + 1, c.load(Ordering::Relaxed));
    }
    let done: u64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    println!(
        "  sink: {} of {} tasks, {} duplicates, cost {} of {} msec, {} msec elapsed",
        report.received,
        report.expected,
        report.duplicates,
        report.total_cost_ms,
        report.expected_cost_ms,
        report.elapsed.as_millis()
    );
    let exact = report.received == tasks
        && report.duplicates == 0
        && done == tasks
        && report.total_cost_ms == report.expected_cost_ms;
    println!(
        "every task processed exactly once: {}",
        if exact { "yes" } else { "NO" }
    );
    if !exact {
        bail!("the pipeline's counts do not match");
    }
    Ok(())
}
