//! `corsair bench`: a load generator for any broker endpoint, and
//! `--compare`, which measures corsair against libzmq's own proxy on the
//! same machine in the same run.

mod compare;
mod memory;
mod peers;
mod steal;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use corsair::core::BrokerConfig;
use corsair::security::{CurveClient, CurveServer};
use corsair::{Broker, BrokerEndpoints, BrokerSecurity, Shutdown};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args;
pub use peers::{ClientDialect, WorkerDialect};

/// The options that shape the load against a given broker. `--compare`
/// and `--memory` start their own broker and load, so these would be
/// ignored there; clap refuses them instead. `size` comes first: it is
/// the one `--memory` uses.
const LOAD_OPTIONS: [&str; 14] = [
    "size",
    "connect",
    "clients",
    "window",
    "requests",
    "duration",
    "dialect",
    "service",
    "workers",
    "worker_dialect",
    "credit",
    "backend",
    "server_key",
    "curve_key",
];

/// Options of `corsair bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// CURVE.
    #[command(flatten)]
    curve: crate::args::CurveArgs,
    /// The broker's clients' endpoint.
    #[arg(long, default_value = "tcp://localhost:5555", value_name = "EP")]
    connect: String,
    /// Concurrent clients, each on its own socket and thread. With 0,
    /// only the --workers run, for --duration: workers held on a broker
    /// that another process loads.
    #[arg(long, default_value_t = 4, value_name = "N")]
    clients: u64,
    /// Requests in flight per client.
    #[arg(long, default_value_t = 1, value_name = "W", value_parser = clap::value_parser!(u64).range(1..))]
    window: u64,
    /// Requests in all (instead of --duration).
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    requests: Option<u64>,
    /// How long to send [default: 5s].
    #[arg(long, value_name = "DUR", value_parser = args::duration)]
    duration: Option<Duration>,
    /// Payload bytes per request.
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    size: usize,
    /// Client dialect.
    #[arg(long, value_enum, default_value_t = ClientDialect::Plain)]
    dialect: ClientDialect,
    /// Service (Majordomo dialects).
    #[arg(long, default_value = "default", value_name = "NAME")]
    service: String,
    /// Also start this many echo workers.
    #[arg(long, value_name = "M")]
    workers: Option<u64>,
    /// The echo workers' dialect.
    #[arg(long, value_enum, default_value_t = WorkerDialect::Ppp)]
    worker_dialect: WorkerDialect,
    /// Requests each echo worker accepts at once (ppp workers only).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    credit: u32,
    /// Where the echo workers connect.
    #[arg(long, default_value = "tcp://localhost:5556", value_name = "EP")]
    backend: String,
    /// libzmq's I/O batch in bytes on the load's own sockets (clients and
    /// echo workers); stock libzmq's is 8192.
    #[arg(long, default_value_t = peers::DEFAULT_IO_BATCH, value_name = "BYTES", value_parser = clap::value_parser!(i32).range(1..))]
    io_batch: i32,
    /// Compare corsair with libzmq's proxy (starts everything itself, with
    /// its own fixed load: the load's options are refused with it).
    #[arg(long, conflicts_with_all = LOAD_OPTIONS)]
    compare: bool,
    /// With --compare: one round of 2 s runs instead of three of 5 s.
    #[arg(long)]
    quick: bool,
    /// With --compare: how many times to run every system (each figure
    /// is the median over rounds; each ratio the median of the ratios
    /// within each round) [default: 3, with --quick 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..100))]
    rounds: Option<u64>,
    /// Measure a `corsair broker` process's memory with this many 64-byte
    /// (--size) requests queued and no worker (starts the broker itself;
    /// of the load's options only --size applies, and --io-batch does not).
    #[arg(long, value_name = "N", conflicts_with_all = ["compare", "io_batch"], conflicts_with_all = &LOAD_OPTIONS[1..])]
    memory: Option<u64>,
    /// Print results as JSON (the last line).
    #[arg(long)]
    json: bool,
}

/// What one run measured.
#[derive(Debug, Clone)]
struct Outcome {
    label: String,
    size: usize,
    window: u64,
    replies: u64,
    errors: u64,
    lost: u64,
    elapsed: Duration,
    hist: Histogram<u64>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.replies as f64 / self.elapsed.as_secs_f64()
    }

    fn q(&self, q: f64) -> u64 {
        self.hist.value_at_quantile(q)
    }

    fn json(&self) -> String {
        format!(
            "{{\"system\":\"{}\",\"size\":{},\"window\":{},\"requests_per_sec\":{:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"errors\":{},\"lost\":{}}}",
            self.label,
            self.size,
            self.window,
            self.rate(),
            self.q(0.5),
            self.q(0.9),
            self.q(0.99),
            self.q(0.999),
            self.hist.max(),
            self.errors,
            self.lost
        )
    }

    fn print(&self) {
        println!(
            "{}: {:.0} req/s over {:.1} s; latency us p50 {} p90 {} p99 {} p99.9 {} max {}; errors {}, lost {}",
            self.label,
            self.rate(),
            self.elapsed.as_secs_f64(),
            self.q(0.5),
            self.q(0.9),
            self.q(0.99),
            self.q(0.999),
            self.hist.max(),
            self.errors,
            self.lost
        );
    }
}

/// How a run ends.
#[derive(Debug, Clone, Copy)]
enum Budget {
    Requests(u64),
    Time(Duration),
}

struct Load<'a> {
    endpoint: &'a str,
    dialect: ClientDialect,
    service: &'a str,
    size: usize,
    window: u64,
    clients: u64,
    budget: Budget,
    progress: bool,
    curve: Option<&'a CurveClient>,
}

fn run_load(label: &str, load: &Load<'_>) -> anyhow::Result<Outcome> {
    let ctx = corsair::zmq::Context::new();
    let shared = Arc::new(peers::Shared::default());
    let started = Instant::now();
    let handles: Vec<_> = (0..load.clients)
        .map(|c| {
            let (ctx, shared) = (ctx.clone(), shared.clone());
            let (endpoint, service) = (load.endpoint.to_owned(), load.service.to_owned());
            let (dialect, size, window) = (load.dialect, load.size, load.window as usize);
            let curve = load.curve.cloned();
            let budget = match load.budget {
                Budget::Requests(n) => Some(n / load.clients + u64::from(c < n % load.clients)),
                Budget::Time(_) => None,
            };
            thread::spawn(move || {
                peers::client(
                    &ctx,
                    &endpoint,
                    dialect,
                    &service,
                    size,
                    window,
                    budget,
                    &shared,
                    Duration::from_secs(5),
                    curve.as_ref(),
                )
            })
        })
        .collect();
    let bar = if load.progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        bar
    } else {
        ProgressBar::hidden()
    };
    loop {
        thread::sleep(Duration::from_millis(100));
        let replies = shared.replies.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        bar.set_message(format!(
            "{label}: {replies} replies, {:.0} req/s",
            replies as f64 / secs
        ));
        if let Budget::Time(d) = load.budget {
            if started.elapsed() >= d {
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut lost = 0;
    for h in handles {
        let r = h.join().expect("client thread").context("client socket")?;
        hist.add(&r.hist).expect("same bounds");
        lost += r.lost;
    }
    Ok(Outcome {
        label: label.to_owned(),
        size: load.size,
        window: load.window,
        replies: shared.replies.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        lost,
        elapsed,
        hist,
    })
}

/// Threads the echo workers share, however many there are.
const WORKER_THREADS: u64 = 4;

/// Echo workers on their own context and (at most four) threads, until
/// dropped; `start` returns once they have had time to connect.
struct Workers {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Workers {
    fn start(
        n: u64,
        endpoint: &str,
        dialect: WorkerDialect,
        service: &str,
        credit: u32,
        curve: Option<&CurveClient>,
    ) -> Self {
        let ctx = corsair::zmq::Context::new();
        let stop = Arc::new(AtomicBool::new(false));
        let per_thread = n.div_ceil(WORKER_THREADS).max(1);
        let threads = (0..n.div_ceil(per_thread))
            .map(|t| {
                let count = per_thread.min(n - t * per_thread) as usize;
                let (ctx, stop) = (ctx.clone(), stop.clone());
                let (endpoint, service) = (endpoint.to_owned(), service.to_owned());
                let curve = curve.cloned();
                thread::spawn(move || {
                    if let Err(e) = peers::workers(
                        &ctx,
                        &endpoint,
                        dialect,
                        &service,
                        credit,
                        count,
                        &stop,
                        curve.as_ref(),
                    ) {
                        eprintln!("corsair bench: worker failed: {e}");
                    }
                })
            })
            .collect();
        // Time for every worker to connect and say READY, so that the
        // load meets all of them from its first request.
        thread::sleep(Duration::from_millis(200 + n));
        Workers { stop, threads }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A corsair broker on loopback in this process, with its own context.
struct InProcessBroker {
    stop: Shutdown,
    thread: Option<thread::JoinHandle<()>>,
    frontend: String,
    backend: String,
}

impl InProcessBroker {
    /// Starts it, with CURVE on when `curve` is given and a dispatch
    /// batch of `batch`.
    fn start(curve: Option<CurveServer>, batch: u32) -> anyhow::Result<Self> {
        let ctx = corsair::zmq::Context::new();
        let any = "tcp://127.0.0.1:0";
        let config = BrokerConfig {
            queue_limit: 10_000_000,
            batch,
            ..BrokerConfig::default()
        };
        let endpoints = BrokerEndpoints {
            frontend: any.to_owned(),
            backend: Some(any.to_owned()),
            fetch: None,
        };
        let security = BrokerSecurity {
            curve,
            ..BrokerSecurity::default()
        };
        let mut broker = Broker::bind_secured(&ctx, &endpoints, config, &security)?;
        let (frontend, backend) = (
            broker.frontend_endpoint().to_owned(),
            broker.backend_endpoint().to_owned(),
        );
        let stop = Shutdown::new();
        let s = stop.clone();
        let thread = thread::spawn(move || {
            if let Err(e) = broker.run(&s) {
                eprintln!("corsair bench: broker failed: {e}");
            }
        });
        Ok(InProcessBroker {
            stop,
            thread: Some(thread),
            frontend,
            backend,
        })
    }
}

impl Drop for InProcessBroker {
    fn drop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// libzmq's proxy between a ROUTER and a DEALER, on its own context.
struct Proxy {
    control: corsair::zmq::Socket,
    thread: Option<thread::JoinHandle<()>>,
    frontend: String,
    backend: String,
}

impl Proxy {
    fn start() -> anyhow::Result<Self> {
        let ctx = corsair::zmq::Context::new();
        let front = ctx.socket(corsair::zmq::ROUTER)?;
        let back = ctx.socket(corsair::zmq::DEALER)?;
        let ctl = ctx.socket(corsair::zmq::PAIR)?;
        for s in [&front, &back, &ctl] {
            s.set_linger(0)?;
        }
        front.bind("tcp://127.0.0.1:*")?;
        back.bind("tcp://127.0.0.1:*")?;
        let name = format!("inproc://proxy-control-{}", std::process::id());
        ctl.bind(&name)?;
        let control = ctx.socket(corsair::zmq::PAIR)?;
        control.connect(&name)?;
        let frontend = front.get_last_endpoint()?.unwrap_or_default();
        let backend = back.get_last_endpoint()?.unwrap_or_default();
        let thread = thread::spawn(move || {
            let (mut front, mut back, mut ctl) = (front, back, ctl);
            let _ = corsair::zmq::proxy_steerable(&mut front, &mut back, &mut ctl);
        });
        Ok(Proxy {
            control,
            thread: Some(thread),
            frontend,
            backend,
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.control.send("TERMINATE", 0);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `--clients 0`: keeps the `--workers` already started connected for
/// `time`, sending no requests.
fn hold_workers(args: &BenchArgs, time: Duration) {
    let n = args.workers.unwrap_or(0);
    let dialect = format!("{:?}", args.worker_dialect).to_lowercase();
    println!(
        "corsair bench: {n} {dialect} workers of `{}` on {}, no clients, for {time:?}",
        args.service, args.backend
    );
    thread::sleep(time);
}

/// Runs `corsair bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    peers::IO_BATCH.store(args.io_batch, Ordering::Relaxed);
    if args.compare {
        return compare::run(&args);
    }
    // clap's `requires` names nothing when what is missing is a flag.
    if args.quick || args.rounds.is_some() {
        crate::usage_error("--quick and --rounds go with --compare");
    }
    if let Some(n) = args.memory {
        return memory::run(n, args.size, args.json);
    }
    if args.clients == 0 && (args.workers.unwrap_or(0) == 0 || args.requests.is_some()) {
        // clap cannot ask for at least one worker, or refuse --requests,
        // only when --clients is 0; a usage error all the same.
        crate::usage_error(
            "--clients 0 needs --workers (at least 1), and --duration rather than --requests",
        );
    }
    let curve = args.curve.curve()?;
    let _workers = args.workers.map(|n| {
        Workers::start(
            n,
            &args.backend,
            args.worker_dialect,
            &args.service,
            args.credit,
            curve.as_ref(),
        )
    });
    let time = args.duration.unwrap_or(Duration::from_secs(5));
    if args.clients == 0 {
        hold_workers(&args, time);
        return Ok(());
    }
    let budget = match args.requests {
        Some(n) => Budget::Requests(n),
        None => Budget::Time(time),
    };
    let load = Load {
        endpoint: &args.connect,
        dialect: args.dialect,
        service: &args.service,
        size: args.size,
        window: args.window,
        clients: args.clients,
        budget,
        progress: !args.json,
        curve: curve.as_ref(),
    };
    let label = format!("{:?} clients", args.dialect).to_lowercase();
    let outcome = run_load(&label, &load)?;
    if args.json {
        println!("{}", outcome.json());
    } else {
        outcome.print();
    }
    if outcome.replies == 0 {
        bail!("no replies from {}", args.connect);
    }
    Ok(())
}
