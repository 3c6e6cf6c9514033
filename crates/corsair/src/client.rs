//! The Lazy Pirate client: REQ, poll with a timeout, and on timeout throw
//! the socket away, reconnect (to the next endpoint, if several) and
//! resend. It speaks the plain dialect (the broker's default service) or,
//! given a service name, Majordomo 0.1 (7/MDP) as the zguide's
//! `mdcliapi` does.

use std::time::Instant;

use bytes::Bytes;
use corsair_core::retry::{Retry, RetryPolicy};
use corsair_proto::mdp::{self, ClientCommand, ClientMessage, MdpVersion};
use corsair_proto::Frames;
use thiserror::Error;
use tracing::{debug, warn};

use crate::frames;
use crate::security::CurveClient;
use crate::shutdown::{poll_ms, Shutdown};

/// Why a request got no answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The broker answered with its definite failure reply: every attempt
    /// at a worker failed, no worker took the request in time, or the
    /// queue was full. Majordomo failure replies say which.
    #[error("the broker gave up on the request{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Failed {
        /// The broker's reason (Majordomo only).
        reason: Option<String>,
    },
    /// The reply did not follow the protocol (wrong header, another
    /// service's name, missing frames).
    #[error("bad reply from the broker: {0}")]
    Protocol(String),
    /// No reply came after every retry.
    #[error("no reply from {endpoints} after {sends} sends: broker unreachable")]
    Unreachable {
        /// How many times the request was sent.
        sends: u32,
        /// The endpoints tried, comma-separated.
        endpoints: String,
    },
    /// The shutdown signal was triggered while waiting.
    #[error("shut down while waiting for a reply")]
    Shutdown,
    /// The request had no frames.
    #[error("a request needs at least one frame")]
    EmptyRequest,
    /// A socket failed.
    #[error("socket error: {0}")]
    Socket(#[from] zmq::Error),
}

/// A Lazy Pirate client over REQ.
pub struct Client {
    ctx: zmq::Context,
    endpoints: Vec<String>,
    policy: RetryPolicy,
    current: usize,
    socket: Option<zmq::Socket>,
    service: Option<Bytes>,
    curve: Option<CurveClient>,
}

impl Client {
    /// A client of the brokers at `endpoints`, tried in turn.
    pub fn new(ctx: &zmq::Context, endpoints: Vec<String>, policy: RetryPolicy) -> Self {
        Client {
            ctx: ctx.clone(),
            endpoints,
            policy,
            current: 0,
            socket: None,
            service: None,
            curve: None,
        }
    }

    /// Encrypts and authenticates with CURVE (the broker must have it on).
    pub fn with_curve(mut self, curve: CurveClient) -> Self {
        self.curve = Some(curve);
        self
    }

    /// Speaks Majordomo 0.1 to `service` instead of the plain dialect.
    pub fn with_service(mut self, service: impl Into<Bytes>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// What goes on the wire for `body`.
    fn wrap(&self, body: Frames) -> Frames {
        match &self.service {
            None => body,
            Some(service) => ClientMessage {
                command: ClientCommand::Request,
                service: service.clone(),
                body,
            }
            .encode(MdpVersion::V01),
        }
    }

    /// The reply body, or the error the reply stands for.
    fn unwrap_reply(&self, reply: Frames) -> Result<Frames, ClientError> {
        let Some(service) = &self.service else {
            return match reply.as_slice() {
                [only] if only.is_empty() => Err(ClientError::Failed { reason: None }),
                _ => Ok(reply),
            };
        };
        let (version, msg) =
            ClientMessage::decode(reply, true).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if version != MdpVersion::V01 || msg.service != *service {
            return Err(ClientError::Protocol(format!(
                "reply from {:?} {}, asked {}",
                version,
                String::from_utf8_lossy(&msg.service),
                String::from_utf8_lossy(service)
            )));
        }
        match mdp::failure_reason(&msg.body) {
            Some(reason) => Err(ClientError::Failed {
                reason: Some(reason),
            }),
            None => Ok(msg.body),
        }
    }

    fn connect(&mut self, endpoint: usize) -> Result<&zmq::Socket, ClientError> {
        self.socket = None;
        let mut socket = self.ctx.socket(zmq::REQ)?;
        socket.set_linger(0)?;
        frames::set_io_batch(&mut socket)?;
        CurveClient::apply_opt(self.curve.as_ref(), &socket)?;
        let ep = &self.endpoints[endpoint];
        socket.connect(ep)?;
        debug!(endpoint = %ep, "client connected");
        self.current = endpoint;
        Ok(self.socket.insert(socket))
    }

    /// Sends `body` and waits for the reply, resending as the policy says.
    /// A definite failure reply is [`ClientError::Failed`]; no reply after
    /// the last retry is [`ClientError::Unreachable`].
    pub fn request(&mut self, body: Frames, shutdown: &Shutdown) -> Result<Frames, ClientError> {
        if body.is_empty() {
            return Err(ClientError::EmptyRequest);
        }
        if self.endpoints.is_empty() {
            return Err(ClientError::Unreachable {
                sends: 0,
                endpoints: String::new(),
            });
        }
        let body = self.wrap(body);
        let mut retry = Retry::new(self.policy, self.endpoints.len(), self.current);
        if self.socket.is_none() {
            self.connect(retry.endpoint())?;
        }
        loop {
            let socket = self.socket.as_ref().expect("connected above");
            frames::send(socket, &body, 0)?;
            let deadline = Instant::now() + retry.timeout();
            loop {
                if shutdown.is_triggered() {
                    self.socket = None;
                    return Err(ClientError::Shutdown);
                }
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                if frames::readable(socket, poll_ms(now, Some(deadline)))? {
                    let reply = frames::recv(socket, 0)?;
                    return self.unwrap_reply(reply);
                }
            }
            // Timed out: REQ cannot send again, so close (linger 0) and
            // reconnect before resending.
            let ep = &self.endpoints[retry.endpoint()];
            warn!(endpoint = %ep, sends = retry.sends(), "no reply in time");
            self.socket = None;
            match retry.on_timeout() {
                Some(next) => {
                    self.connect(next)?;
                }
                None => {
                    return Err(ClientError::Unreachable {
                        sends: retry.sends(),
                        endpoints: self.endpoints.join(","),
                    })
                }
            }
        }
    }

    /// Sends one single-frame request; see [`Client::request`].
    pub fn request_bytes(
        &mut self,
        body: impl Into<Bytes>,
        shutdown: &Shutdown,
    ) -> Result<Frames, ClientError> {
        self.request(vec![body.into()], shutdown)
    }
}
