//! `corsair broker`.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use corsair::core::{BrokerConfig, HeartbeatConfig};
use corsair::{Broker, Bytes};

use crate::args;

/// Options of `corsair broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Endpoint the clients connect to.
    #[arg(long, default_value = "tcp://*:5555", value_name = "EP")]
    frontend: String,
    /// Endpoint the workers connect to.
    #[arg(long, default_value = "tcp://*:5556", value_name = "EP")]
    backend: String,
    /// One endpoint for clients and workers alike (Majordomo workers and
    /// every client dialect; Pirate workers need --backend).
    #[arg(long, value_name = "EP", conflicts_with_all = ["frontend", "backend"])]
    bind: Option<String>,
    /// Attempts per request before the client gets the failure reply.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Time one attempt may take before another worker gets the request.
    #[arg(long, default_value = "2s", value_name = "DUR", value_parser = args::duration)]
    attempt_timeout: Duration,
    /// Heartbeat interval with Paranoid Pirate workers.
    #[arg(long, default_value = "1s", value_name = "DUR", value_parser = args::duration)]
    heartbeat: Duration,
    /// Silent heartbeat intervals after which a Paranoid Pirate worker is dead.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    liveness: u32,
    /// Heartbeat interval with Majordomo workers.
    #[arg(long, default_value = "2.5s", value_name = "DUR", value_parser = args::duration)]
    mdp_heartbeat: Duration,
    /// Silent heartbeat intervals after which a Majordomo worker is dead.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    mdp_liveness: u32,
    /// Requests waiting for a worker beyond which new ones fail at once.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    queue_limit: usize,
    /// How long a request may wait for a worker before it fails.
    #[arg(long, default_value = "5s", value_name = "DUR", value_parser = args::duration)]
    wait_limit: Duration,
    /// Service that plain clients and Pirate workers use.
    #[arg(long, default_value = "default", value_name = "NAME")]
    default_service: String,
}

impl BrokerArgs {
    /// The core settings these options describe.
    pub fn config(&self) -> BrokerConfig {
        BrokerConfig {
            max_attempts: self.max_attempts,
            attempt_timeout: self.attempt_timeout,
            heartbeat: HeartbeatConfig {
                interval: self.heartbeat,
                liveness: self.liveness,
            },
            mdp_heartbeat: HeartbeatConfig {
                interval: self.mdp_heartbeat,
                liveness: self.mdp_liveness,
            },
            queue_limit: self.queue_limit,
            wait_limit: self.wait_limit,
            default_service: Bytes::from(self.default_service.clone()),
        }
    }
}

/// Runs the broker until Ctrl-C or SIGTERM.
pub fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let shutdown = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    let mut broker = match &args.bind {
        Some(ep) => Broker::bind_single(&ctx, ep, args.config()),
        None => Broker::bind(&ctx, &args.frontend, &args.backend, args.config()),
    }
    .context("cannot start the broker")?;
    if args.bind.is_some() {
        eprintln!(
            "corsair broker: clients and workers on {}",
            broker.frontend_endpoint()
        );
    } else {
        eprintln!(
            "corsair broker: clients on {}, workers on {}",
            broker.frontend_endpoint(),
            broker.backend_endpoint()
        );
    }
    let stats = broker.run(&shutdown)?;
    eprintln!("corsair broker: stopped; {stats:?}");
    Ok(())
}
