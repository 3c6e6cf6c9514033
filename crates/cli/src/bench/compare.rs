//! `corsair bench --compare`: libzmq's proxy and corsair's broker under
//! the same load, one after another in one run.

use std::thread;
use std::time::Duration;

use super::{
    run_load, BenchArgs, Budget, ClientDialect, InProcessBroker, Load, Outcome, Proxy,
    WorkerDialect, Workers,
};

/// The corsair configuration the target ratios are taken from.
const CORSAIR: &str = "corsair + PPP, credit 64";

/// Runs the comparison and prints its table (and JSON summary).
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let per_run = if args.quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    };
    let mut results: Vec<Outcome> = Vec::new();
    for size in [64usize, 4096] {
        for window in [1u64, 64] {
            fn load<'a>(
                endpoint: &'a str,
                dialect: ClientDialect,
                service: &'a str,
                (size, window, per_run, progress): (usize, u64, Duration, bool),
            ) -> Load<'a> {
                Load {
                    endpoint,
                    dialect,
                    service,
                    size,
                    window,
                    clients: 4,
                    budget: Budget::Time(per_run),
                    progress,
                }
            }
            let shape = (size, window, per_run, !args.json);
            {
                let proxy = Proxy::start()?;
                let _w = Workers::start(4, &proxy.backend, WorkerDialect::Rep, "", 1);
                thread::sleep(Duration::from_millis(200));
                let ep = proxy.frontend.clone();
                results.push(run_load(
                    "libzmq proxy + REP",
                    &load(&ep, ClientDialect::Plain, "", shape),
                )?);
            }
            for (label, workers, clients, service, credit) in [
                (
                    "corsair + PPP",
                    WorkerDialect::Ppp,
                    ClientDialect::Plain,
                    "default",
                    1,
                ),
                (
                    CORSAIR,
                    WorkerDialect::Ppp,
                    ClientDialect::Plain,
                    "default",
                    64,
                ),
                (
                    "corsair + MDP/0.1",
                    WorkerDialect::Mdp,
                    ClientDialect::Mdp,
                    "echo",
                    1,
                ),
                (
                    "corsair + MDP/0.2 async",
                    WorkerDialect::Mdp2,
                    ClientDialect::Mdp2,
                    "echo",
                    1,
                ),
            ] {
                let broker = InProcessBroker::start()?;
                let _w = Workers::start(4, &broker.backend, workers, service, credit);
                thread::sleep(Duration::from_millis(200));
                let ep = broker.frontend.clone();
                results.push(run_load(label, &load(&ep, clients, service, shape))?);
            }
        }
    }
    let baseline = |size: usize, window: u64| {
        results
            .iter()
            .find(|r| r.size == size && r.window == window && r.label.starts_with("libzmq"))
            .cloned()
    };
    println!(
        "| payload | window | system | req/s | x proxy | p50 us | x proxy | p99 us | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &results {
        let b = baseline(r.size, r.window).expect("baseline ran first");
        println!(
            "| {} B | {} | {} | {:.0} | {:.2} | {} | {:.2} | {} | {} |",
            r.size,
            r.window,
            r.label,
            r.rate(),
            r.rate() / b.rate(),
            r.q(0.5),
            r.q(0.5) as f64 / b.q(0.5).max(1) as f64,
            r.q(0.99),
            r.errors + r.lost
        );
    }
    let ratio = |size: usize, window: u64, latency: bool| {
        let b = baseline(size, window).expect("baseline");
        let c = results
            .iter()
            .find(|r| r.size == size && r.window == window && r.label == CORSAIR)
            .expect("corsair ran");
        if latency {
            c.q(0.5) as f64 / b.q(0.5).max(1) as f64
        } else {
            c.rate() / b.rate()
        }
    };
    let runs: Vec<String> = results.iter().map(Outcome::json).collect();
    let summary = format!(
        "{{\"throughput_ratio\":{:.3},\"throughput_ratio_4k\":{:.3},\"latency_ratio\":{:.3},\"runs\":[{}]}}",
        ratio(64, 64, false),
        ratio(4096, 64, false),
        ratio(64, 1, true),
        runs.join(",")
    );
    if args.json {
        println!("{summary}");
    } else {
        println!();
        println!(
            "{CORSAIR} vs libzmq proxy: throughput x{:.2} at 64 B, x{:.2} at 4 KiB (window 64); p50 latency x{:.2} at 64 B (window 1)",
            ratio(64, 64, false),
            ratio(4096, 64, false),
            ratio(64, 1, true)
        );
    }
    Ok(())
}
