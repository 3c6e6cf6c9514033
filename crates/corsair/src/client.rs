//! The Lazy Pirate client: REQ, poll with a timeout, and on timeout throw
//! the socket away, reconnect (to the next endpoint, if several) and
//! resend.

use std::time::Instant;

use bytes::Bytes;
use corsair_core::retry::{Retry, RetryPolicy};
use corsair_proto::Frames;
use thiserror::Error;
use tracing::{debug, warn};

use crate::frames;
use crate::shutdown::{poll_ms, Shutdown};

/// Why a request got no answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The broker answered with its definite failure reply: every attempt
    /// at a worker failed, no worker took the request in time, or the
    /// queue was full.
    #[error("the broker gave up on the request (definite failure reply)")]
    Failed,
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
        }
    }

    fn connect(&mut self, endpoint: usize) -> Result<&zmq::Socket, ClientError> {
        self.socket = None;
        let socket = self.ctx.socket(zmq::REQ)?;
        socket.set_linger(0)?;
        let ep = &self.endpoints[endpoint];
        socket.connect(ep)?;
        debug!(endpoint = %ep, "client connected");
        self.current = endpoint;
        Ok(self.socket.insert(socket))
    }

    /// Sends `body` and waits for the reply, resending as the policy says.
    /// A definite failure reply (one empty frame) is [`ClientError::Failed`].
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
                    return match reply.as_slice() {
                        [only] if only.is_empty() => Err(ClientError::Failed),
                        _ => Ok(reply),
                    };
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
