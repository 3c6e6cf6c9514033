//! Workers: Paranoid Pirate (DEALER, READY, heartbeats both ways,
//! reconnect with back-off) and Simple Pirate (REQ, READY once).
//!
//! The handler is a closure from request body to `Some(reply)` or `None`
//! (no answer: the broker's attempt timeout will give the request to
//! another worker). It runs on the worker's own thread, between polls.

use std::time::Instant;

use bytes::Bytes;
use corsair_core::liveness::{Liveness, LivenessAction, LivenessConfig};
use corsair_proto::pirate::{FromWorker, ToWorker};
use corsair_proto::{Enveloped, Frames};
use thiserror::Error;
use tracing::{debug, info, warn};

use crate::frames;
use crate::shutdown::{poll_ms, Shutdown};

/// Which worker dialect to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerDialect {
    /// 6/PPP over DEALER: heartbeats both ways, reconnect on silence.
    Paranoid,
    /// Simple Pirate over REQ: READY once, no heartbeats.
    Simple,
}

/// Where to connect and how to behave.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The broker's worker endpoint.
    pub endpoint: String,
    /// The dialect to speak.
    pub dialect: WorkerDialect,
    /// Heartbeat, liveness and reconnect back-off (Paranoid only).
    pub liveness: LivenessConfig,
}

impl WorkerOptions {
    /// A Paranoid Pirate worker with the default 1 s x 3 heartbeat and
    /// 1 s to 32 s back-off.
    pub fn paranoid(endpoint: &str) -> Self {
        WorkerOptions {
            endpoint: endpoint.to_owned(),
            dialect: WorkerDialect::Paranoid,
            liveness: LivenessConfig::default(),
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
    /// Reconnects after the broker fell silent (or after a drop, for
    /// Simple Pirate workers, whose REQ socket cannot skip a reply).
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
            WorkerDialect::Paranoid => zmq::DEALER,
            WorkerDialect::Simple => zmq::REQ,
        };
        let socket = self.ctx.socket(kind)?;
        socket.set_linger(0)?;
        socket.connect(&self.options.endpoint)?;
        frames::send(&socket, &FromWorker::Ready.encode(), 0)?;
        info!(endpoint = %self.options.endpoint, dialect = ?self.options.dialect, "worker ready");
        Ok(socket)
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
            WorkerDialect::Paranoid => self.run_paranoid(&mut handler, shutdown)?,
            WorkerDialect::Simple => self.run_simple(&mut handler, shutdown)?,
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
                Some(
                    FromWorker::Reply(Enveloped {
                        envelope: request.envelope,
                        body,
                    })
                    .encode(),
                )
            }
            None => {
                self.stats.dropped += 1;
                debug!("request dropped by the handler");
                None
            }
        }
    }

    fn run_paranoid(
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
                    match ToWorker::decode(msg) {
                        Ok(ToWorker::Heartbeat) => {}
                        Ok(ToWorker::Request(req)) => {
                            if let Some(reply) = self.handle(handler, req) {
                                frames::send(&socket, &reply, 0)?;
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
                        frames::send(&socket, &FromWorker::Heartbeat.encode(), 0)?;
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
            let reply = match ToWorker::decode(msg) {
                Ok(ToWorker::Request(req)) => self.handle(handler, req),
                Ok(ToWorker::Heartbeat) => None,
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
}
