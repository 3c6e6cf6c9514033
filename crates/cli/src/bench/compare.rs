//! `corsair bench --compare`: libzmq's proxy and corsair's broker under
//! the same load, one after another in one run.

use std::time::Duration;

use corsair::security::{CurveClient, CurveServer, KeyPair};

use super::steal::CpuTimes;
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
    let per_run = Duration::from_secs(if args.quick { 2 } else { 5 });
    let rounds = args
        .rounds
        .map_or(if args.quick { 1 } else { 3 }, |r| r as usize);
    let mut results: Vec<(usize, Outcome)> = Vec::new();
    let before = CpuTimes::now();
    for round in 0..rounds {
        run_round(round, per_run, !args.json, &mut results)?;
    }
    let steal = before
        .zip(CpuTimes::now())
        .and_then(|(a, b)| a.steal_percent_until(&b));
    report(args, rounds, &results, steal);
    Ok(())
}

/// Runs every system once, in the table's order, adding each outcome to
/// `results` with `round`.
fn run_round(
    round: usize,
    per_run: Duration,
    progress: bool,
    results: &mut Vec<(usize, Outcome)>,
) -> anyhow::Result<()> {
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
            let shape = (size, window, per_run, progress);
            let proxies: &[(&str, u64)] = if (size, window) == (64, 64) {
                &[(PROXY, 4), (PROXY_1000, 1000)]
            } else {
                &[(PROXY, 4)]
            };
            for &(label, workers) in proxies {
                let proxy = Proxy::start()?;
                let _w = Workers::start(workers, &proxy.backend, WorkerDialect::Rep, "", 1, None);
                let ep = proxy.frontend.clone();
                results.push((
                    round,
                    run_load(label, &load(&ep, ClientDialect::Plain, "", shape, None))?,
                ));
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
                // Right after the batch row with 4 workers, which it is
                // measured against.
                rows.extend([
                    Row {
                        workers: 1000,
                        batch: 64,
                        ..ppp(CORSAIR_BATCH_1000)
                    },
                    Row {
                        workers: 1000,
                        ..ppp(CORSAIR_1000)
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
                let ep = broker.frontend.clone();
                results.push((
                    round,
                    run_load(
                        row.label,
                        &load(&ep, row.clients, service, shape, peers.as_ref()),
                    )?,
                ));
            }
        }
    }
    Ok(())
}

/// What names a system's runs across rounds: payload, window, label.
fn key(o: &Outcome) -> (usize, u64, &str) {
    (o.size, o.window, &o.label)
}

/// The medians over rounds of one system at one payload and window.
#[derive(Debug)]
struct Line {
    size: usize,
    window: u64,
    label: String,
    /// Requests per second.
    rate: f64,
    /// Requests per second over the proxy's in the same round.
    rate_ratio: f64,
    /// p50 latency, microseconds.
    p50: f64,
    /// p50 over the proxy's in the same round.
    p50_ratio: f64,
    /// p99 latency, microseconds.
    p99: f64,
    /// Failure replies, malformed replies and requests never answered,
    /// over every round.
    errors: u64,
}

/// The results of every round, by system.
struct Rounds<'a>(&'a [(usize, Outcome)]);

impl Rounds<'_> {
    /// `label`'s outcome at `size`, `window` in `round`.
    fn find(&self, round: usize, size: usize, window: u64, label: &str) -> Option<&Outcome> {
        self.0
            .iter()
            .find(|(r, o)| *r == round && key(o) == (size, window, label))
            .map(|(_, o)| o)
    }

    /// `of(a) / of(b)` in each round that ran both (`a` at `size`,
    /// `window` against `b` at the same): a ratio is only ever taken
    /// between runs of one round, close in time, so that a slow spell of
    /// the machine weighs on both sides of it.
    fn ratios(
        &self,
        (size, window): (usize, u64),
        a: &str,
        b: &str,
        of: impl Fn(&Outcome) -> f64,
    ) -> Vec<f64> {
        let mut rounds: Vec<usize> = self.0.iter().map(|(r, _)| *r).collect();
        rounds.dedup();
        rounds
            .into_iter()
            .filter_map(|r| {
                let (x, y) = (
                    self.find(r, size, window, a)?,
                    self.find(r, size, window, b)?,
                );
                Some(of(x) / of(y).max(f64::MIN_POSITIVE))
            })
            .collect()
    }

    /// One line per system, in the order of the first round.
    fn lines(&self) -> Vec<Line> {
        let mut lines: Vec<Line> = Vec::new();
        for (_, o) in self.0 {
            if lines
                .iter()
                .any(|l| (l.size, l.window, l.label.as_str()) == key(o))
            {
                continue;
            }
            let same: Vec<&Outcome> = self
                .0
                .iter()
                .map(|(_, x)| x)
                .filter(|x| key(x) == key(o))
                .collect();
            let of = |f: fn(&Outcome) -> f64| median(same.iter().map(|x| f(x)).collect());
            let shape = (o.size, o.window);
            lines.push(Line {
                size: o.size,
                window: o.window,
                label: o.label.clone(),
                rate: of(Outcome::rate),
                rate_ratio: median(self.ratios(shape, &o.label, PROXY, Outcome::rate)),
                p50: of(p50),
                p50_ratio: median(self.ratios(shape, &o.label, PROXY, p50)),
                p99: of(|x| x.q(0.99) as f64),
                errors: same.iter().map(|x| x.errors + x.lost).sum(),
            });
        }
        lines
    }
}

fn p50(o: &Outcome) -> f64 {
    o.q(0.5) as f64
}

/// The median (of an even count, the mean of the middle two); NaN for
/// none.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A target's ratio: the median over rounds, and the lowest and highest.
struct Ratio {
    name: &'static str,
    values: Vec<f64>,
}

impl Ratio {
    /// The median over rounds (NaN when no round ran both sides).
    fn median(&self) -> f64 {
        median(self.values.clone())
    }

    fn json(&self) -> String {
        if self.values.is_empty() {
            return format!("\"{0}\":null,\"{0}_range\":null", self.name);
        }
        let (lo, hi) = self
            .values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        format!(
            "\"{0}\":{1:.3},\"{0}_range\":[{2:.3},{3:.3}]",
            self.name,
            self.median(),
            lo,
            hi
        )
    }
}

/// The ratio called `name` among `targets`.
fn named<'a>(targets: &'a [Ratio], name: &str) -> Option<&'a Ratio> {
    targets.iter().find(|r| r.name == name)
}

/// The targets' ratios, each paired round by round.
fn ratios(rounds: &Rounds<'_>) -> Vec<Ratio> {
    let rate = Outcome::rate;
    let ratio = |name, shape, a, b, of: fn(&Outcome) -> f64| Ratio {
        name,
        values: rounds.ratios(shape, a, b, of),
    };
    vec![
        ratio("throughput_ratio", (64, 64), CORSAIR_BATCH, PROXY, rate),
        ratio(
            "throughput_ratio_4k",
            (4096, 64),
            CORSAIR_BATCH,
            PROXY,
            rate,
        ),
        ratio("latency_ratio", (64, 1), CORSAIR, PROXY, p50),
        ratio(
            "workers_1000_ratio",
            (64, 64),
            CORSAIR_BATCH_1000,
            CORSAIR_BATCH,
            rate,
        ),
        ratio("throughput_ratio_batch_1", (64, 64), CORSAIR, PROXY, rate),
        ratio(
            "throughput_ratio_4k_batch_1",
            (4096, 64),
            CORSAIR,
            PROXY,
            rate,
        ),
        ratio(
            "workers_1000_ratio_batch_1",
            (64, 64),
            CORSAIR_1000,
            CORSAIR,
            rate,
        ),
    ]
}

/// Prints the table of medians and the summary (one JSON line with
/// `--json`), with the share of CPU time the host stole during the
/// rounds (`None`: not known).
fn report(args: &BenchArgs, rounds: usize, results: &[(usize, Outcome)], steal: Option<f64>) {
    let all = Rounds(results);
    println!(
        "| payload | window | system | req/s | x proxy | p50 us | x proxy | p99 us | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for l in all.lines() {
        println!(
            "| {} B | {} | {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} | {} |",
            l.size, l.window, l.label, l.rate, l.rate_ratio, l.p50, l.p50_ratio, l.p99, l.errors
        );
    }
    let targets = ratios(&all);
    let value = |name: &str| named(&targets, name).map_or(f64::NAN, Ratio::median);
    if args.json {
        let runs: Vec<String> = results
            .iter()
            // Each run's own object, with its round first.
            .map(|(round, o)| format!("{{\"round\":{round},{}", &o.json()[1..]))
            .collect();
        let fields: Vec<String> = targets.iter().map(Ratio::json).collect();
        let steal = steal.map_or("null".to_owned(), |s| format!("{s:.1}"));
        println!(
            "{{{},\"rounds\":{rounds},\"io_batch\":{},\"steal_percent\":{steal},\"runs\":[{}]}}",
            fields.join(","),
            args.io_batch,
            runs.join(",")
        );
    } else {
        println!();
        println!(
            "Medians of {rounds} round(s). {CORSAIR_BATCH} vs libzmq proxy: throughput x{:.2} at 64 B, x{:.2} at 4 KiB (window 64), 1000 workers vs 4: x{:.2}; without the batch: x{:.2}, x{:.2}, x{:.2}. {CORSAIR}: p50 latency x{:.2} at 64 B (window 1). Load generator's libzmq I/O batch: {} bytes",
            value("throughput_ratio"),
            value("throughput_ratio_4k"),
            value("workers_1000_ratio"),
            value("throughput_ratio_batch_1"),
            value("throughput_ratio_4k_batch_1"),
            value("workers_1000_ratio_batch_1"),
            value("latency_ratio"),
            args.io_batch
        );
        if let Some(s) = steal {
            println!("CPU time taken by the host (steal) during the rounds: {s:.1}%");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    /// A run of `label` that answered `rate` requests a second with
    /// every latency `p50` microseconds.
    fn run(label: &str, rate: u64, p50: u64) -> Outcome {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        hist.record(p50).unwrap();
        Outcome {
            label: label.to_owned(),
            size: 64,
            window: 64,
            replies: rate,
            errors: 0,
            lost: 1,
            elapsed: Duration::from_secs(1),
            hist,
        }
    }

    #[test]
    fn ratios_pair_the_runs_of_one_round_and_report_their_median_and_range() {
        // The machine slows down in round 1 and the proxy in round 2:
        // paired round by round corsair is 2x the proxy twice and 0.9x
        // once, while the medians of each side alone (100 and 100) would
        // say 1.0x.
        let results = vec![
            (0, run(PROXY, 100, 1000)),
            (0, run(CORSAIR_BATCH, 200, 500)),
            (1, run(PROXY, 50, 2000)),
            (1, run(CORSAIR_BATCH, 100, 1000)),
            (2, run(PROXY, 100, 1000)),
            (2, run(CORSAIR_BATCH, 90, 1000)),
        ];
        let all = Rounds(&results);
        let targets = ratios(&all);
        let json = |name| named(&targets, name).expect("a target's ratio").json();
        assert_eq!(
            json("throughput_ratio"),
            "\"throughput_ratio\":2.000,\"throughput_ratio_range\":[0.900,2.000]"
        );
        // No 4 KiB runs: no figure, and valid JSON that says so.
        assert_eq!(
            json("throughput_ratio_4k"),
            "\"throughput_ratio_4k\":null,\"throughput_ratio_4k_range\":null"
        );

        let lines = all.lines();
        assert_eq!(lines.len(), 2, "one line per system: {lines:?}");
        let corsair = &lines[1];
        assert_eq!(corsair.label, CORSAIR_BATCH);
        assert_eq!(corsair.rate, 100.0);
        assert_eq!(corsair.rate_ratio, 2.0);
        assert_eq!(corsair.p50_ratio, 0.5);
        assert_eq!(corsair.errors, 3, "lost requests of every round count");
        assert_eq!(lines[0].rate_ratio, 1.0);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }
}
