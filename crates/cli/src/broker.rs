//! `corsair broker`, in two forms:
//!
//! - the zguide form: `corsair broker [--frontend EP] [--backend EP]`
//!   (or `--bind EP` for one socket), 3 attempts of 2 s by default;
//! - the classic task broker's form: `corsair broker -t TRIES -T SECONDS
//!   CLIENTS WORKERS ANSWERS`, unlimited tries and no attempt timeout by
//!   default, as that broker has.
//!
//! Every option works in both forms; only the defaults differ.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use corsair::core::{BrokerConfig, HeartbeatConfig};
use std::path::PathBuf;

use corsair::security::{AllowList, CurveServer, KeyPair};
use corsair::{Broker, BrokerEndpoints, BrokerSecurity, Bytes, Engine};

use crate::args;

/// The zguide form's clients' endpoint.
const FRONTEND: &str = "tcp://*:5555";
/// The zguide form's workers' endpoint.
const BACKEND: &str = "tcp://*:5556";

/// Options of `corsair broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// The classic form's three endpoints: CLIENTS (ROUTER), WORKERS
    /// asking for tasks (REP), ANSWERS (PULL).
    #[arg(value_name = "ENDPOINT", num_args = 0..=3)]
    endpoints: Vec<String>,
    /// Endpoint the clients connect to [default: tcp://*:5555].
    #[arg(long, value_name = "EP")]
    frontend: Option<String>,
    /// Endpoint the Pirate and Majordomo workers connect to [default:
    /// tcp://*:5556; in the classic form, none unless given].
    #[arg(long, value_name = "EP")]
    backend: Option<String>,
    /// One endpoint for clients and workers alike (Majordomo workers and
    /// every client dialect; Pirate workers need --backend).
    #[arg(long, value_name = "EP", conflicts_with_all = ["frontend", "backend", "endpoints"])]
    bind: Option<String>,
    /// Who speaks ZMTP on the broker's sockets: `native` (corsair's own
    /// engine on the broker thread: plain TCP and IPC, ZMTP 3.x peers),
    /// `libzmq`, or `auto` (native unless CURVE or an endpoint needs
    /// libzmq).
    #[arg(long, default_value = "auto", value_name = "ENGINE", value_parser = engine)]
    engine: Engine,
    /// Attempts per request before the client gets the failure reply
    /// [default: 3; classic form: unlimited].
    #[arg(short = 't', long = "max-attempts", visible_alias = "tries", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: Option<u32>,
    /// Time one attempt may take before another worker gets the request,
    /// e.g. 2, 2.5s, 500ms [default: 2s; classic form: none].
    #[arg(short = 'T', long = "attempt-timeout", visible_alias = "timeout", value_name = "DUR", value_parser = args::duration, allow_hyphen_values = true)]
    attempt_timeout: Option<Duration>,
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
    /// Requests outstanding (queued or in flight) beyond which new ones
    /// fail at once.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    queue_limit: usize,
    /// How long a request may wait for a worker before it fails [default:
    /// 5s; classic form: no limit].
    #[arg(long, value_name = "DUR", value_parser = args::duration)]
    wait_limit: Option<Duration>,
    /// The broker's CURVE secret key file: turns CURVE on for every
    /// socket (plain-text peers are refused).
    #[arg(long, value_name = "FILE")]
    curve_secret_key: Option<PathBuf>,
    /// Public keys admitted on the clients' socket: a file of Z85 keys,
    /// one a line, or a directory of *.pub files [default: any key].
    #[arg(long, value_name = "PATH", requires = "curve_secret_key")]
    allow_clients: Option<PathBuf>,
    /// Public keys admitted on the workers' sockets, as --allow-clients.
    #[arg(long, value_name = "PATH", requires = "curve_secret_key")]
    allow_workers: Option<PathBuf>,
    /// Largest message frame in bytes a peer may send; libzmq drops the
    /// connection of a peer that sends a bigger one, and the broker logs
    /// and counts it [default: no limit].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(i64).range(1..))]
    max_message_size: Option<i64>,
    /// Requests one client connection may have outstanding; more get the
    /// failure reply at once [default: no limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_client_requests: Option<u32>,
    /// Requests arriving together that one worker with credit may be
    /// given in a row before the next idle worker is taken (1: strictly
    /// least recently used, request by request).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// On SIGTERM or Ctrl-C: how long attempts in flight may take to
    /// finish before their clients get the failure reply.
    #[arg(long, default_value = "5s", value_name = "DUR", value_parser = args::duration)]
    grace: Duration,
    /// Service that plain clients, Pirate and fetch workers use.
    #[arg(long, default_value = "default", value_name = "NAME")]
    default_service: String,
}

impl BrokerArgs {
    /// True for the classic task broker's form (three endpoints).
    fn classic(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// Checks what clap cannot: zero or three endpoints. The message is
    /// for a usage error.
    pub fn validate(&self) -> Result<(), String> {
        match self.endpoints.len() {
            0 | 3 => Ok(()),
            n => Err(format!(
                "the classic form takes three endpoints (CLIENTS WORKERS ANSWERS), got {n}"
            )),
        }
    }

    /// The core settings these options describe.
    pub fn config(&self) -> BrokerConfig {
        let classic = self.classic();
        let zguide = BrokerConfig::default();
        BrokerConfig {
            max_attempts: self
                .max_attempts
                .or(if classic { None } else { zguide.max_attempts }),
            attempt_timeout: self.attempt_timeout.or(if classic {
                None
            } else {
                zguide.attempt_timeout
            }),
            heartbeat: HeartbeatConfig {
                interval: self.heartbeat,
                liveness: self.liveness,
            },
            mdp_heartbeat: HeartbeatConfig {
                interval: self.mdp_heartbeat,
                liveness: self.mdp_liveness,
            },
            queue_limit: self.queue_limit,
            wait_limit: self
                .wait_limit
                .or(if classic { None } else { zguide.wait_limit }),
            default_service: Bytes::from(self.default_service.clone()),
            client_limit: self.max_client_requests,
            batch: self.batch,
        }
    }

    /// CURVE and size limits.
    fn security(&self) -> anyhow::Result<BrokerSecurity> {
        let curve = match &self.curve_secret_key {
            None => None,
            Some(path) => {
                let list = |p: &Option<PathBuf>| p.as_deref().map(AllowList::read).transpose();
                Some(CurveServer {
                    keys: KeyPair::read_secret(path)?,
                    allow_clients: list(&self.allow_clients)?,
                    allow_workers: list(&self.allow_workers)?,
                })
            }
        };
        Ok(BrokerSecurity {
            curve,
            max_message_size: self.max_message_size,
        })
    }

    /// The sockets to bind.
    fn endpoints(&self) -> BrokerEndpoints {
        if let Some(ep) = &self.bind {
            return BrokerEndpoints {
                frontend: ep.clone(),
                backend: None,
                fetch: None,
            };
        }
        match self.endpoints.as_slice() {
            [clients, workers, answers] => BrokerEndpoints {
                frontend: self.frontend.clone().unwrap_or_else(|| clients.clone()),
                backend: self.backend.clone(),
                fetch: Some((workers.clone(), answers.clone())),
            },
            _ => BrokerEndpoints {
                frontend: self.frontend.clone().unwrap_or_else(|| FRONTEND.to_owned()),
                backend: Some(self.backend.clone().unwrap_or_else(|| BACKEND.to_owned())),
                fetch: None,
            },
        }
    }
}

fn engine(s: &str) -> Result<Engine, String> {
    match s {
        "auto" => Ok(Engine::Auto),
        "native" => Ok(Engine::Native),
        "libzmq" => Ok(Engine::Libzmq),
        _ => Err("expected auto, native or libzmq".into()),
    }
}

/// Runs the broker until Ctrl-C or SIGTERM.
pub fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let shutdown = crate::signals::shutdown_on_signals()?;
    let ctx = corsair::zmq::Context::new();
    let endpoints = args.endpoints();
    let security = args.security()?;
    let mut broker = Broker::bind_with(&ctx, &endpoints, args.config(), &security, args.engine)
        .context("cannot start the broker")?;
    broker.set_grace(args.grace);
    let mut line = format!("corsair broker: clients on {}", broker.frontend_endpoint());
    match (&endpoints.backend, args.bind.is_some()) {
        (_, true) => {
            line = format!(
                "corsair broker: clients and workers on {}",
                broker.frontend_endpoint()
            )
        }
        (Some(_), false) => line += &format!(", workers on {}", broker.backend_endpoint()),
        (None, false) => {}
    }
    if let (Some(fetch), Some(answers)) = (broker.fetch_endpoint(), broker.answers_endpoint()) {
        line += &format!(", fetch workers on {fetch}, answers on {answers}");
    }
    eprintln!("{line}");
    eprintln!(
        "corsair broker: sockets served by {}",
        match broker.engine() {
            Engine::Libzmq => "libzmq",
            _ => "the native ZMTP engine",
        }
    );
    if let Some(curve) = &security.curve {
        let count =
            |l: &Option<AllowList>| l.as_ref().map_or("any".into(), |l| l.len().to_string());
        eprintln!(
            "corsair broker: CURVE on, public key {}; admitting {} client keys, {} worker keys",
            curve.keys.public,
            count(&curve.allow_clients),
            count(&curve.allow_workers)
        );
    }
    let stats = broker.run(&shutdown)?;
    let (admitted, refused) = broker.auth_counts();
    let oversized = broker.oversize_refused();
    let wire = broker.wire_refused();
    eprintln!(
        "corsair broker: stopped; {stats:?}; connections admitted {admitted}, refused {refused}; \
         oversized messages refused {oversized}; connections breaking ZMTP refused {wire}"
    );
    Ok(())
}
