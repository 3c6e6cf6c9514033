//! `corsair client`: a Lazy Pirate client.

use std::time::Duration;

use anyhow::bail;
use clap::Args;
use corsair::core::RetryPolicy;
use corsair::{Bytes, Client, ClientError};

use crate::args;

/// Options of `corsair client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Broker endpoint; repeat (or separate with commas) to try several
    /// in turn.
    #[arg(
        long,
        default_value = "tcp://localhost:5555",
        value_name = "EP",
        value_delimiter = ','
    )]
    connect: Vec<String>,
    /// How long to wait for each reply before resending.
    #[arg(long, default_value = "10s", value_name = "DUR", value_parser = args::duration)]
    timeout: Duration,
    /// Resends after the first send (`forever` for no limit).
    #[arg(long, default_value = "3", value_name = "N", value_parser = args::retries)]
    retries: ::std::option::Option<u32>,
    /// How many requests to send.
    #[arg(long, default_value_t = 1, value_name = "N")]
    requests: u64,
    /// Request body; without it, requests are the numbers 1, 2, 3...
    body: Option<String>,
}

/// Sends the requests one after another and prints each reply.
pub fn run(args: ClientArgs) -> anyhow::Result<()> {
    let shutdown = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    let policy = RetryPolicy {
        timeout: args.timeout,
        retries: args.retries,
    };
    let mut client = Client::new(&ctx, args.connect, policy);
    for seq in 1..=args.requests {
        let body = args.body.clone().unwrap_or_else(|| seq.to_string());
        match client.request(vec![Bytes::from(body)], &shutdown) {
            Ok(reply) => {
                let text: Vec<_> = reply.iter().map(|f| String::from_utf8_lossy(f)).collect();
                println!("{}", text.join(" "));
            }
            Err(ClientError::Failed) => {
                println!("failure");
            }
            Err(ClientError::Shutdown) => bail!("interrupted"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
