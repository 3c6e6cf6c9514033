//! Workers: Paranoid Pirate (DEALER, READY, heartbeats both ways,
//! reconnect with back-off), Majordomo 0.1 and 0.2 (DEALER, READY with a
//! service name, heartbeats both ways, DISCONNECT) and Simple Pirate (REQ,
//! READY once).
//!
//! The handler is a closure from request body to `Some(reply)` or `None`
//! (no answer: the broker's attempt timeout will give the request to
//! another worker). It runs on the worker's own thread, between polls.

use std::time::Instant;

use std::time::Duration;

use bytes::Bytes;
use corsair_core::liveness::{Liveness, LivenessAction, LivenessConfig};
use corsair_proto::mdp::{MdpVersion, WorkerCommand};
use corsair_proto::pirate::{FromWorker, ToWorker};
use corsair_proto::{DecodeError, Enveloped, Frames};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::frames;
use crate::security::CurveClient;
use crate::shutdown::{poll_ms, Shutdown};

/// How long a closing Majordomo worker waits for its DISCONNECT to leave.
const DISCONNECT_LINGER_MS: i32 = 200;
/// How long a closing fetch worker waits for its last answer to leave.
const ANSWER_LINGER_MS: i32 = 500;

/// Which worker dialect to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerDialect {
    /// 6/PPP over DEALER: heartbeats both ways, reconnect on silence.
    Paranoid,
    /// Simple Pirate over REQ: READY once, no heartbeats.
    Simple,
    /// Majordomo over DEALER: READY with the service name, heartbeats
    /// both ways, DISCONNECT on shutdown.
    Mdp(MdpVersion),
    /// The classic task broker's fetch worker: REQ asks for a task,
    /// answers go to the answers endpoint over PUSH.
    Fetch,
}

/// What a heartbeating worker hears from its broker, in any dialect.
enum FromBroker {
    Request(Enveloped),
    Heartbeat,
    Disconnect,
}

/// Where to connect and how to behave.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The broker's worker endpoint.
    pub endpoint: String,
    /// The dialect to speak.
    pub dialect: WorkerDialect,
    /// Heartbeat, liveness and reconnect back-off (not for Simple).
    pub liveness: LivenessConfig,
    /// The service to serve (Majordomo only; Pirate workers serve the
    /// broker's default service).
    pub service: Bytes,
    /// Where answers go (fetch workers only).
    pub answers: Option<String>,
    /// Requests the broker may give it at once (Paranoid Pirate only, a
    /// corsair extension announced with READY; 1 is the zguide's
    /// behaviour). They queue in the socket and are answered in order.
    pub credit: u32,
    /// CURVE towards a broker that has it on (`None`: plain text).
    pub curve: Option<CurveClient>,
}

impl WorkerOptions {
    /// A Paranoid Pirate worker with the default 1 s x 3 heartbeat and
    /// 1 s to 32 s back-off.
    pub fn paranoid(endpoint: &str) -> Self {
        WorkerOptions {
            endpoint: endpoint.to_owned(),
            dialect: WorkerDialect::Paranoid,
            liveness: LivenessConfig::default(),
            service: Bytes::from_static(b"default"),
            answers: None,
            credit: 1,
            curve: None,
        }
    }

    /// A fetch worker asking for tasks at `workers` and answering to
    /// `answers`.
    pub fn fetch(workers: &str, answers: &str) -> Self {
        WorkerOptions {
            dialect: WorkerDialect::Fetch,
            answers: Some(answers.to_owned()),
            ..Self::paranoid(workers)
        }
    }

    /// A Majordomo worker of `version` for `service`, with the zguide's
    /// 2.5 s x 3 heartbeat.
    pub fn mdp(endpoint: &str, version: MdpVersion, service: impl Into<Bytes>) -> Self {
        WorkerOptions {
            dialect: WorkerDialect::Mdp(version),
            liveness: LivenessConfig {
                heartbeat: Duration::from_millis(2500),
                ..LivenessConfig::default()
            },
            service: service.into(),
            ..Self::paranoid(endpoint)
        }
    }

    /// A Simple Pirate worker.
    pub fn simple(endpoint: &str) -> Self {
        WorkerOptions {
            dialect: WorkerDialect::Simple,
            ..Self::paranoid(endpoint)
        }
    }
}

/// Why a worker stopped with an error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A socket failed.
    #[error("socket error: {0}")]
    Socket(#[from] zmq::Error),
    /// A fetch worker was given no answers endpoint.
    #[error("a fetch worker needs an answers endpoint")]
    NoAnswers,
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Requests handed to the handler.
    pub requests: u64,
    /// Replies sent.
    pub replies: u64,
    /// Requests the handler chose not to answer.
    pub dropped: u64,
    /// Reconnects after the broker fell silent or said DISCONNECT (or
    /// after a drop, for Simple Pirate workers, whose REQ socket cannot
    /// skip a reply).
    pub reconnects: u64,
    /// Malformed messages from the broker, ignored.
    pub malformed: u64,
}

/// A worker connected to a broker.
pub struct Worker {
    ctx: zmq::Context,
    options: WorkerOptions,
    stats: WorkerStats,
}

impl Worker {
    /// A worker that will connect when run.
    pub fn new(ctx: &zmq::Context, options: WorkerOptions) -> Self {
        Worker {
            ctx: ctx.clone(),
            options,
            stats: WorkerStats::default(),
        }
    }

    fn connect(&self) -> Result<zmq::Socket, WorkerError> {
        let kind = match self.options.dialect {
            WorkerDialect::Simple | WorkerDialect::Fetch => zmq::REQ,
            WorkerDialect::Paranoid | WorkerDialect::Mdp(_) => zmq::DEALER,
        };
        let mut socket = self.ctx.socket(kind)?;
        socket.set_linger(0)?;
        frames::set_io_batch(&mut socket)?;
        CurveClient::apply_opt(self.options.curve.as_ref(), &socket)?;
        socket.connect(&self.options.endpoint)?;
        let ready = match self.options.dialect {
            WorkerDialect::Mdp(v) => WorkerCommand::Ready {
                service: self.options.service.clone(),
            }
            .encode(v),
            WorkerDialect::Paranoid if self.options.credit > 1 => {
                FromWorker::ReadyWithCredit(self.options.credit).encode()
            }
            _ => FromWorker::Ready.encode(),
        };
        frames::send(&socket, &ready, 0)?;
        info!(endpoint = %self.options.endpoint, dialect = ?self.options.dialect, "worker ready");
        Ok(socket)
    }

    fn decode(&self, frames: Frames) -> Result<FromBroker, DecodeError> {
        match self.options.dialect {
            WorkerDialect::Mdp(v) => match WorkerCommand::decode(frames)? {
                (got, _) if got != v => Err(DecodeError::BadHeader {
                    expected: match v {
                        MdpVersion::V01 => "MDPW01",
                        MdpVersion::V02 => "MDPW02",
                    },
                }),
                (_, WorkerCommand::Request(req)) => Ok(FromBroker::Request(req)),
                (_, WorkerCommand::Heartbeat) => Ok(FromBroker::Heartbeat),
                (_, WorkerCommand::Disconnect) => Ok(FromBroker::Disconnect),
                (_, other) => Err(DecodeError::Unexpected {
                    dialect: "MDP worker",
                    command: other.name(),
                }),
            },
            _ => match ToWorker::decode(frames)? {
                ToWorker::Request(req) => Ok(FromBroker::Request(req)),
                ToWorker::Heartbeat => Ok(FromBroker::Heartbeat),
            },
        }
    }

    fn heartbeat(&self) -> Frames {
        match self.options.dialect {
            WorkerDialect::Mdp(v) => WorkerCommand::Heartbeat.encode(v),
            _ => FromWorker::Heartbeat.encode(),
        }
    }

    /// Serves requests with `handler` until `shutdown` is triggered. The
    /// request in hand when the signal comes is finished first.
    pub fn run<F>(
        &mut self,
        mut handler: F,
        shutdown: &Shutdown,
    ) -> Result<WorkerStats, WorkerError>
    where
        F: FnMut(Frames) -> Option<Frames>,
    {
        match self.options.dialect {
            WorkerDialect::Simple => self.run_simple(&mut handler, shutdown)?,
            WorkerDialect::Fetch => self.run_fetch(&mut handler, shutdown)?,
            WorkerDialect::Paranoid | WorkerDialect::Mdp(_) => {
                self.run_heartbeating(&mut handler, shutdown)?
            }
        }
        Ok(self.stats.clone())
    }

    /// Runs the handler on one request; the reply to send, if any.
    fn handle(
        &mut self,
        handler: &mut dyn FnMut(Frames) -> Option<Frames>,
        request: Enveloped,
    ) -> Option<Frames> {
        self.stats.requests += 1;
        match handler(request.body) {
            Some(mut body) => {
                if body.is_empty() {
                    body.push(Bytes::new());
                }
                self.stats.replies += 1;
                let reply = Enveloped {
                    envelope: request.envelope,
                    body,
                };
                Some(match self.options.dialect {
                    WorkerDialect::Mdp(v) => WorkerCommand::Final(reply).encode(v),
                    _ => FromWorker::Reply(reply).encode(),
                })
            }
            None => {
                self.stats.dropped += 1;
                debug!("request dropped by the handler");
                None
            }
        }
    }

    fn run_heartbeating(
        &mut self,
        handler: &mut dyn FnMut(Frames) -> Option<Frames>,
        shutdown: &Shutdown,
    ) -> Result<(), WorkerError> {
        let mut socket = self.connect()?;
        let mut liveness = Liveness::new(self.options.liveness, Instant::now());
        while !shutdown.is_triggered() {
            let timeout = poll_ms(Instant::now(), Some(liveness.poll_timeout()));
            if frames::readable(&socket, timeout)? {
                loop {
                    let msg = match frames::recv(&socket, zmq::DONTWAIT) {
                        Ok(msg) => msg,
                        Err(zmq::Error::EAGAIN) => break,
                        Err(e) => return Err(e.into()),
                    };
                    liveness.on_message(Instant::now());
                    match self.decode(msg) {
                        Ok(FromBroker::Heartbeat) => {}
                        Ok(FromBroker::Disconnect) => {
                            // 7/MDP: close, and register again on a new socket.
                            warn!("broker said DISCONNECT: reconnecting");
                            self.stats.reconnects += 1;
                            socket = self.connect()?;
                            liveness.on_connected(Instant::now());
                            break;
                        }
                        Ok(FromBroker::Request(req)) => {
                            if let Some(reply) = self.handle(handler, req) {
                                frames::send(&socket, &reply, 0)?;
                                // The reply stands for the next heartbeat.
                                liveness.on_sent(Instant::now());
                            }
                            // The broker was alive when it sent the request;
                            // time spent in the handler is not its silence.
                            liveness.on_message(Instant::now());
                        }
                        Err(err) => {
                            self.stats.malformed += 1;
                            warn!(%err, "malformed message from broker ignored");
                        }
                    }
                }
            }
            while let Some(action) = liveness.poll_action(Instant::now()) {
                match action {
                    LivenessAction::Heartbeat => {
                        frames::send(&socket, &self.heartbeat(), 0)?;
                    }
                    LivenessAction::Reconnect { after } => {
                        warn!(?after, "broker silent: reconnecting after back-off");
                        drop(socket);
                        if shutdown.sleep(after) {
                            return Ok(());
                        }
                        self.stats.reconnects += 1;
                        socket = self.connect()?;
                        liveness.on_connected(Instant::now());
                    }
                }
            }
        }
        if let WorkerDialect::Mdp(v) = self.options.dialect {
            // Tell the broker, so it sends nothing more; give the message
            // a moment to leave before the socket closes.
            socket.set_linger(DISCONNECT_LINGER_MS)?;
            frames::send(&socket, &WorkerCommand::Disconnect.encode(v), 0)?;
            info!("worker disconnected");
        }
        Ok(())
    }

    fn run_simple(
        &mut self,
        handler: &mut dyn FnMut(Frames) -> Option<Frames>,
        shutdown: &Shutdown,
    ) -> Result<(), WorkerError> {
        let mut socket = self.connect()?;
        while !shutdown.is_triggered() {
            if !frames::readable(&socket, poll_ms(Instant::now(), None))? {
                continue;
            }
            let msg = frames::recv(&socket, 0)?;
            let reply = match self.decode(msg) {
                Ok(FromBroker::Request(req)) => self.handle(handler, req),
                Ok(FromBroker::Heartbeat | FromBroker::Disconnect) => None,
                Err(err) => {
                    self.stats.malformed += 1;
                    warn!(%err, "malformed message from broker ignored");
                    None
                }
            };
            match reply {
                Some(reply) => frames::send(&socket, &reply, 0)?,
                None => {
                    // REQ must send before it can receive again: start a
                    // new connection (the broker forgets the old one).
                    self.stats.reconnects += 1;
                    socket = self.connect()?;
                }
            }
        }
        Ok(())
    }

    fn run_fetch(
        &mut self,
        handler: &mut dyn FnMut(Frames) -> Option<Frames>,
        shutdown: &Shutdown,
    ) -> Result<(), WorkerError> {
        let answers_ep = self.options.answers.clone().ok_or(WorkerError::NoAnswers)?;
        let mut answers = self.ctx.socket(zmq::PUSH)?;
        answers.set_linger(ANSWER_LINGER_MS)?;
        frames::set_io_batch(&mut answers)?;
        CurveClient::apply_opt(self.options.curve.as_ref(), &answers)?;
        answers.connect(&answers_ep)?;
        let mut socket = self.ctx.socket(zmq::REQ)?;
        socket.set_linger(0)?;
        frames::set_io_batch(&mut socket)?;
        CurveClient::apply_opt(self.options.curve.as_ref(), &socket)?;
        socket.connect(&self.options.endpoint)?;
        info!(endpoint = %self.options.endpoint, answers = %answers_ep, dialect = ?self.options.dialect, "worker ready");
        'ask: while !shutdown.is_triggered() {
            frames::send(&socket, &[Bytes::from_static(b"ready")], 0)?;
            let mut task = loop {
                if shutdown.is_triggered() {
                    break 'ask;
                }
                if frames::readable(&socket, poll_ms(Instant::now(), None))? {
                    break frames::recv(&socket, 0)?;
                }
            };
            if task.len() < 2 {
                self.stats.malformed += 1;
                warn!(frames = task.len(), "task without an id and a body ignored");
                continue;
            }
            let body = task.split_off(1);
            let request = Enveloped {
                envelope: task,
                body,
            };
            self.stats.requests += 1;
            let id = request.envelope[0].clone();
            match handler(request.body) {
                Some(reply) => {
                    let mut answer = Vec::with_capacity(1 + reply.len().max(1));
                    answer.push(id);
                    answer.extend(reply);
                    if answer.len() == 1 {
                        answer.push(Bytes::new());
                    }
                    frames::send(&answers, &answer, 0)?;
                    self.stats.replies += 1;
                }
                None => {
                    self.stats.dropped += 1;
                    debug!("task dropped by the handler");
                }
            }
        }
        Ok(())
    }
}
