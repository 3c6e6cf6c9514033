//! The `corsair` command: argument parsing and wiring only; the work is
//! done by the `corsair` library.

mod args;
mod bench;
mod broker;
mod chaos;
mod client;
mod demo;
mod keygen;
mod pattern;
mod procs;
mod signals;
mod worker;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Reliable request-reply on ZeroMQ.
#[derive(Debug, Parser)]
#[command(name = "corsair", version, about)]
struct Cli {
    /// More logging: -v info, -vv debug, -vvv trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reliable broker.
    Broker(broker::BrokerArgs),
    /// Run a worker that echoes (or runs a command), optionally misbehaving.
    Worker(worker::WorkerArgs),
    /// Send requests as a Lazy Pirate client and print the replies.
    Client(client::ClientArgs),
    /// Broker, misbehaving workers and clients in one process; checks
    /// that nothing is lost.
    Demo(demo::DemoArgs),
    /// Measure a broker under load, or compare corsair with libzmq's proxy.
    Bench(bench::BenchArgs),
    /// Broker and worker processes under SIGKILL while clients send;
    /// checks that nothing is lost or duplicated.
    Chaos(chaos::ChaosArgs),
    /// Write a CURVE key pair: NAME.pub and NAME.secret.
    Keygen(keygen::KeygenArgs),
    /// Run a basic socket pattern (REQ/REP, PUB/SUB, PUSH/PULL) in one
    /// process and show what flowed.
    Pattern(pattern::PatternArgs),
}

fn init_logging(base: u8, verbose: u8) {
    let level = match base.saturating_add(verbose) {
        0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("CORSAIR_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// A usage error: one line on stderr, exit code 2.
fn usage_error(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2);
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap's first line says what is wrong; the usage text after
            // it is one `--help` away.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: bad arguments");
            usage_error(first.trim_start_matches("error: "));
        }
        Err(e) => e.exit(),
    };
    if let Command::Broker(args) = &cli.command {
        if let Err(message) = args.validate() {
            usage_error(&message);
        }
    }
    let base = match cli.command {
        Command::Demo(_)
        | Command::Client(_)
        | Command::Pattern(_)
        | Command::Bench(_)
        | Command::Keygen(_)
        | Command::Chaos(_) => 0,
        Command::Broker(_) | Command::Worker(_) => 2,
    };
    init_logging(base, cli.verbose);
    let result = match cli.command {
        Command::Broker(a) => broker::run(a),
        Command::Worker(a) => worker::run(a),
        Command::Client(a) => client::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Pattern(a) => pattern::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Chaos(a) => chaos::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corsair: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
