//! `corsair client`: a Lazy Pirate client (plain or Majordomo 0.1), or a
//! Majordomo 0.2 client.

use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};
use corsair::core::RetryPolicy;
use corsair::{AsyncClient, Bytes, Client, ClientError, Event, Frames, Shutdown};

use crate::args;

/// Options of `corsair client`.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// CURVE.
    #[command(flatten)]
    curve: crate::args::CurveArgs,
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
    /// How many requests to send (per thread).
    #[arg(long, default_value_t = 1, value_name = "N")]
    requests: u64,
    /// Client threads, each with its own connection, sending --requests
    /// numbered requests each (as the classic task broker's demo client).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threads: u64,
    /// Client dialect [default: plain, or mdp when --service is given].
    #[arg(long, value_enum)]
    dialect: Option<Dialect>,
    /// Service to ask (Majordomo); `mmi.service` asks the broker whether
    /// the service named in the body has workers.
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Request body; without it, requests are the numbers 1, 2, 3...
    body: Option<String>,
}

/// Client dialects the CLI offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// Lazy Pirate over REQ, to the broker's default service.
    Plain,
    /// Majordomo 0.1 (7/MDP) over REQ, with Lazy Pirate retries.
    Mdp,
    /// Majordomo 0.2 (18/MDP) over DEALER; partial replies are printed as
    /// they come.
    Mdp2,
}

fn show(reply: &Frames) -> String {
    let text: Vec<_> = reply.iter().map(|f| String::from_utf8_lossy(f)).collect();
    text.join(" ")
}

/// Sends the requests one after another and prints each reply.
pub fn run(args: ClientArgs) -> anyhow::Result<()> {
    let shutdown = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    let dialect = match (args.dialect, &args.service) {
        (Some(d), _) => d,
        (None, Some(_)) => Dialect::Mdp,
        (None, None) => Dialect::Plain,
    };
    let service = args.service.clone().unwrap_or_else(|| "echo".to_owned());
    if dialect == Dialect::Mdp2 {
        return run_mdp2(&ctx, &args, &service, &shutdown);
    }
    let policy = RetryPolicy {
        timeout: args.timeout,
        retries: args.retries,
    };
    let service = (dialect == Dialect::Mdp).then_some(service);
    if args.threads == 1 {
        return run_sync(&ctx, &args, policy, service, None, &shutdown);
    }
    let handles: Vec<_> = (1..=args.threads)
        .map(|t| {
            let (ctx, args, service, shutdown) =
                (ctx.clone(), args.clone(), service.clone(), shutdown.clone());
            std::thread::spawn(move || run_sync(&ctx, &args, policy, service, Some(t), &shutdown))
        })
        .collect();
    let mut result = Ok(());
    for h in handles {
        let r = h
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("client thread panicked")));
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// Sends `--requests` requests one after another and prints each reply;
/// in thread `t` of several, requests are numbered `t-1`, `t-2`...
fn run_sync(
    ctx: &corsair::zmq::Context,
    args: &ClientArgs,
    policy: RetryPolicy,
    service: Option<String>,
    thread: Option<u64>,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let mut client = Client::new(ctx, args.connect.clone(), policy);
    if let Some(curve) = args.curve.curve()? {
        client = client.with_curve(curve);
    }
    if let Some(service) = service {
        client = client.with_service(service);
    }
    for seq in 1..=args.requests {
        let body = match (&args.body, thread) {
            (Some(body), _) => body.clone(),
            (None, None) => seq.to_string(),
            (None, Some(t)) => format!("{t}-{seq}"),
        };
        match client.request(vec![Bytes::from(body)], shutdown) {
            Ok(reply) => println!("{}", show(&reply)),
            Err(ClientError::Failed { reason: None }) => println!("failure"),
            Err(ClientError::Failed {
                reason: Some(reason),
            }) => println!("failure: {reason}"),
            Err(ClientError::Shutdown) => bail!("interrupted"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One request at a time over the asynchronous client, printing parts as
/// they come. There are no resends: the broker retries across workers.
fn run_mdp2(
    ctx: &corsair::zmq::Context,
    args: &ClientArgs,
    service: &str,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let endpoint = args.connect.first().map(String::as_str).unwrap_or_default();
    let curve = args.curve.curve()?;
    let mut client = AsyncClient::connect_with(ctx, endpoint, args.timeout, curve.as_ref())?;
    for seq in 1..=args.requests {
        let body = args.body.clone().unwrap_or_else(|| seq.to_string());
        client.send(service.as_bytes(), vec![Bytes::from(body)])?;
        loop {
            if shutdown.is_triggered() {
                bail!("interrupted");
            }
            match client.poll(Duration::from_millis(50))? {
                None => {}
                Some(Event::Partial { body, .. }) => println!("{}", show(&body)),
                Some(Event::Reply { body, .. }) => {
                    println!("{}", show(&body));
                    break;
                }
                Some(Event::Failed { reason, .. }) => {
                    println!("failure: {reason}");
                    break;
                }
                Some(Event::TimedOut { .. }) => {
                    bail!("no reply from {endpoint} within {:?}", args.timeout)
                }
            }
        }
    }
    Ok(())
}
