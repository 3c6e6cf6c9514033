//! `corsair worker`: an echo worker that can misbehave on purpose.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::{Args, ValueEnum};
use corsair::core::LivenessConfig;
use corsair::proto::MdpVersion;
use corsair::{Bytes, Frames, Worker, WorkerOptions};
use rand::Rng;
use tracing::{error, info, warn};

use crate::args;

/// Worker dialects the CLI offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// Paranoid Pirate (6/PPP): DEALER with heartbeats.
    Ppp,
    /// Simple Pirate: REQ, READY once.
    Simple,
    /// Majordomo 0.1 (7/MDP): DEALER, READY with --service.
    Mdp,
    /// Majordomo 0.2 (18/MDP): DEALER, READY with --service.
    Mdp2,
    /// The classic task broker's fetch worker: REQ to the broker's
    /// WORKERS endpoint (--connect), answers over PUSH to --answers.
    Fetch,
}

/// Options of `corsair worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// CURVE.
    #[command(flatten)]
    curve: crate::args::CurveArgs,
    /// The broker's worker endpoint.
    #[arg(long, default_value = "tcp://localhost:5556", value_name = "EP")]
    connect: String,
    /// Wire dialect.
    #[arg(long, value_enum, default_value_t = Dialect::Ppp)]
    dialect: Dialect,
    /// Where answers go (fetch workers: the broker's ANSWERS endpoint).
    #[arg(long, value_name = "EP", required_if_eq("dialect", "fetch"))]
    answers: Option<String>,
    /// Service to serve (Majordomo dialects; Pirate and fetch workers
    /// serve the broker's default service).
    #[arg(long, default_value = "echo", value_name = "NAME")]
    service: String,
    /// Never answer this fraction of requests (0..1).
    #[arg(long, default_value = "0", value_name = "P", value_parser = args::probability)]
    drop: f64,
    /// Exit abruptly with this probability per request (0..1).
    #[arg(long, default_value = "0", value_name = "P", value_parser = args::probability)]
    crash: f64,
    /// Work this long on every request before answering.
    #[arg(long, value_name = "DUR", value_parser = args::duration)]
    delay: Option<Duration>,
    /// Run CMD (with `sh -c`) per request: body on stdin, answer = stdout.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// Heartbeat interval [default: 1s for ppp, 2.5s for mdp and mdp2].
    #[arg(long, value_name = "DUR", value_parser = args::duration)]
    heartbeat: Option<Duration>,
    /// Requests the broker may give this worker at once (ppp only; a
    /// corsair extension announced with READY).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    credit: u32,
    /// Silent intervals before the broker is presumed dead.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    liveness: u32,
}

/// How a worker treats each request: the misbehaviour knobs of the CLI
/// and the demo, applied before the real work.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Fraction of requests never answered.
    pub drop: f64,
    /// Probability per request of an abrupt exit.
    pub crash: f64,
    /// Time spent on every request.
    pub delay: Option<Duration>,
    /// Command that computes the answer.
    pub exec: Option<String>,
}

/// What the behaviour decided for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this answer.
    Answer(Frames),
    /// Say nothing.
    Drop,
    /// Die now, without answering.
    Crash,
}

impl Behaviour {
    /// Decides what to do with `body`.
    pub fn apply(&self, rng: &mut impl Rng, body: Frames) -> Outcome {
        if self.crash > 0.0 && rng.gen_bool(self.crash) {
            return Outcome::Crash;
        }
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
        if self.drop > 0.0 && rng.gen_bool(self.drop) {
            return Outcome::Drop;
        }
        match &self.exec {
            None => Outcome::Answer(body),
            Some(cmd) => match exec(cmd, &body) {
                Ok(out) => Outcome::Answer(vec![out]),
                Err(e) => {
                    warn!(command = %cmd, error = %e, "--exec failed: no answer");
                    Outcome::Drop
                }
            },
        }
    }
}

fn exec(cmd: &str, body: &Frames) -> std::io::Result<Bytes> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    for frame in body {
        stdin.write_all(frame)?;
    }
    drop(stdin);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!("exited with {}", out.status)));
    }
    Ok(Bytes::from(out.stdout))
}

/// Runs the worker until Ctrl-C or SIGTERM (or a simulated crash).
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let shutdown = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    let mut options = match args.dialect {
        Dialect::Ppp => WorkerOptions::paranoid(&args.connect),
        Dialect::Simple => WorkerOptions::simple(&args.connect),
        Dialect::Mdp => WorkerOptions::mdp(&args.connect, MdpVersion::V01, args.service),
        Dialect::Mdp2 => WorkerOptions::mdp(&args.connect, MdpVersion::V02, args.service),
        Dialect::Fetch => {
            WorkerOptions::fetch(&args.connect, args.answers.as_deref().unwrap_or_default())
        }
    };
    options.credit = args.credit;
    options.curve = args.curve.curve()?;
    options.liveness = LivenessConfig {
        heartbeat: args.heartbeat.unwrap_or(options.liveness.heartbeat),
        liveness: args.liveness,
        ..options.liveness
    };
    let behaviour = Behaviour {
        drop: args.drop,
        crash: args.crash,
        delay: args.delay,
        exec: args.exec,
    };
    let mut rng = rand::thread_rng();
    let mut worker = Worker::new(&ctx, options);
    let stats = worker.run(
        |body| {
            let shown = body
                .first()
                .map(|f| String::from_utf8_lossy(f).into_owned());
            info!(request = ?shown, "request received");
            match behaviour.apply(&mut rng, body) {
                Outcome::Answer(reply) => {
                    info!(request = ?shown, "normal reply");
                    Some(reply)
                }
                Outcome::Drop => {
                    info!(request = ?shown, "dropping request");
                    None
                }
                Outcome::Crash => {
                    error!(request = ?shown, "simulating a crash");
                    std::process::exit(3);
                }
            }
        },
        &shutdown,
    )?;
    eprintln!("corsair worker: stopped; {stats:?}");
    Ok(())
}
