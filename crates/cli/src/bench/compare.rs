//! `corsair bench --compare`: libzmq's proxy and corsair's broker under
//! the same load, one after another in one run.

use std::thread;
use std::time::Duration;

use corsair::security::{CurveClient, CurveServer, KeyPair};

use super::{
    run_load, BenchArgs, Budget, ClientDialect, InProcessBroker, Load, Outcome, Proxy,
    WorkerDialect, Workers,
};

/// corsair with credit (the latency target's row, and the throughput
/// figures request by request).
const CORSAIR: &str = "corsair + PPP, credit 64";
/// corsair's row with CURVE on.
const CORSAIR_CURVE: &str = "corsair + PPP, credit 64, CURVE";
/// The baseline.
const PROXY: &str = "libzmq proxy + REP";
/// The baseline with 1,000 REP workers.
const PROXY_1000: &str = "libzmq proxy + REP, 1000 workers";
/// corsair's row with 1,000 connected workers instead of 4.
const CORSAIR_1000: &str = "corsair + PPP, credit 64, 1000 workers";
/// corsair with credit and a dispatch batch of 64 (`--batch 64`): the
/// throughput targets' row.
const CORSAIR_BATCH: &str = "corsair + PPP, credit 64, batch 64";
/// The batch row with 1,000 connected workers: the 1,000-worker target
/// is this row over the one above.
const CORSAIR_BATCH_1000: &str = "corsair + PPP, credit 64, batch 64, 1000 workers";

/// One corsair configuration of the comparison.
struct Row {
    label: &'static str,
    dialect: WorkerDialect,
    clients: ClientDialect,
    credit: u32,
    workers: u64,
    /// CURVE on between every peer and the broker.
    curve: bool,
    /// The broker's dispatch batch.
    batch: u32,
}

impl Row {
    fn new(
        label: &'static str,
        dialect: WorkerDialect,
        clients: ClientDialect,
        credit: u32,
    ) -> Self {
        Row {
            label,
            dialect,
            clients,
            credit,
            workers: 4,
            curve: false,
            batch: 1,
        }
    }
}

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
                curve: Option<&'a CurveClient>,
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
                    curve,
                }
            }
            let shape = (size, window, per_run, !args.json);
            let proxies: &[(&str, u64)] = if (size, window) == (64, 64) {
                &[(PROXY, 4), (PROXY_1000, 1000)]
            } else {
                &[(PROXY, 4)]
            };
            for &(label, workers) in proxies {
                let proxy = Proxy::start()?;
                let _w = Workers::start(workers, &proxy.backend, WorkerDialect::Rep, "", 1, None);
                thread::sleep(Duration::from_millis(200 + workers));
                let ep = proxy.frontend.clone();
                results.push(run_load(
                    label,
                    &load(&ep, ClientDialect::Plain, "", shape, None),
                )?);
            }
            let mut rows = vec![
                Row::new("corsair + PPP", WorkerDialect::Ppp, ClientDialect::Plain, 1),
                Row::new(CORSAIR, WorkerDialect::Ppp, ClientDialect::Plain, 64),
                Row {
                    curve: true,
                    ..Row::new(CORSAIR_CURVE, WorkerDialect::Ppp, ClientDialect::Plain, 64)
                },
                Row::new(
                    "corsair + MDP/0.1",
                    WorkerDialect::Mdp,
                    ClientDialect::Mdp,
                    1,
                ),
                Row::new(
                    "corsair + MDP/0.2 async",
                    WorkerDialect::Mdp2,
                    ClientDialect::Mdp2,
                    1,
                ),
            ];
            let ppp = |label| Row::new(label, WorkerDialect::Ppp, ClientDialect::Plain, 64);
            if window == 64 {
                rows.push(Row {
                    batch: 64,
                    ..ppp(CORSAIR_BATCH)
                });
            }
            if (size, window) == (64, 64) {
                rows.extend([
                    Row {
                        workers: 1000,
                        ..ppp(CORSAIR_1000)
                    },
                    Row {
                        workers: 1000,
                        batch: 64,
                        ..ppp(CORSAIR_BATCH_1000)
                    },
                ]);
            }
            for row in rows {
                let service = match row.clients {
                    ClientDialect::Plain => "default",
                    _ => "echo",
                };
                let (server, peers) = if row.curve {
                    let keys = KeyPair::generate()?;
                    let peers = CurveClient {
                        server_public: keys.public.clone(),
                        keys: KeyPair::generate()?,
                    };
                    let server = CurveServer {
                        keys,
                        allow_clients: None,
                        allow_workers: None,
                    };
                    (Some(server), Some(peers))
                } else {
                    (None, None)
                };
                let broker = InProcessBroker::start(server, row.batch)?;
                let _w = Workers::start(
                    row.workers,
                    &broker.backend,
                    row.dialect,
                    service,
                    row.credit,
                    peers.as_ref(),
                );
                // Time for every worker to connect and say READY.
                thread::sleep(Duration::from_millis(200 + row.workers));
                let ep = broker.frontend.clone();
                results.push(run_load(
                    row.label,
                    &load(&ep, row.clients, service, shape, peers.as_ref()),
                )?);
            }
        }
    }
    let baseline = |size: usize, window: u64| {
        results
            .iter()
            .find(|r| r.size == size && r.window == window && r.label == PROXY)
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
    // Row `label` against the proxy at `size` and `window`: throughput,
    // or p50 latency.
    let ratio = |label: &str, size: usize, window: u64, latency: bool| {
        let b = baseline(size, window).expect("baseline");
        let c = results
            .iter()
            .find(|r| r.size == size && r.window == window && r.label == label)
            .expect("corsair ran");
        if latency {
            c.q(0.5) as f64 / b.q(0.5).max(1) as f64
        } else {
            c.rate() / b.rate()
        }
    };
    let rate_of = |label: &str| {
        results
            .iter()
            .find(|r| (r.size, r.window) == (64, 64) && r.label == label)
            .map_or(0.0, Outcome::rate)
    };
    // Throughput with 1,000 connected workers over that with 4: with the
    // batch (the target), and request by request (the default).
    let scale = rate_of(CORSAIR_BATCH_1000) / rate_of(CORSAIR_BATCH).max(1.0);
    let scale_lru = rate_of(CORSAIR_1000) / rate_of(CORSAIR).max(1.0);
    let runs: Vec<String> = results.iter().map(Outcome::json).collect();
    let (rate, rate_4k) = (
        ratio(CORSAIR_BATCH, 64, 64, false),
        ratio(CORSAIR_BATCH, 4096, 64, false),
    );
    let (rate_1, rate_4k_1) = (
        ratio(CORSAIR, 64, 64, false),
        ratio(CORSAIR, 4096, 64, false),
    );
    let latency = ratio(CORSAIR, 64, 1, true);
    let summary = format!(
        "{{\"throughput_ratio\":{rate:.3},\"throughput_ratio_4k\":{rate_4k:.3},\"latency_ratio\":{latency:.3},\"workers_1000_ratio\":{scale:.3},\"throughput_ratio_batch_1\":{rate_1:.3},\"throughput_ratio_4k_batch_1\":{rate_4k_1:.3},\"workers_1000_ratio_batch_1\":{scale_lru:.3},\"io_batch\":{},\"runs\":[{}]}}",
        args.io_batch,
        runs.join(",")
    );
    if args.json {
        println!("{summary}");
    } else {
        println!();
        println!(
            "{CORSAIR_BATCH} vs libzmq proxy: throughput x{rate:.2} at 64 B, x{rate_4k:.2} at 4 KiB (window 64), 1000 workers vs 4: x{scale:.2}; without the batch: x{rate_1:.2}, x{rate_4k_1:.2}, x{scale_lru:.2}. {CORSAIR}: p50 latency x{latency:.2} at 64 B (window 1). Load generator's libzmq I/O batch: {} bytes",
            args.io_batch
        );
    }
    Ok(())
}
