//! A Majordomo 0.2 (18/MDP) client over DEALER that keeps many requests
//! in flight.
//!
//! Each request goes out as `tag "" MDPC02 REQUEST service body…`: the
//! tag is an envelope frame the broker hands back unchanged with every
//! PARTIAL and FINAL, so replies are matched to requests whatever order
//! they come in. Requests that get no FINAL within the timeout are
//! reported as [`Event::TimedOut`] and forgotten (a late reply is then
//! ignored); resending is the caller's choice, since the broker already
//! retries across workers.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_proto::mdp::{self, ClientCommand, ClientMessage, MdpVersion};
use corsair_proto::{Enveloped, Frames};
use tracing::{debug, warn};

use crate::client::ClientError;
use crate::frames;
use crate::security::CurveClient;
use crate::shutdown::poll_ms;

/// Something that happened to a request in flight, named by the tag
/// [`AsyncClient::send`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Part of the reply; more will come.
    Partial {
        /// The request.
        tag: u64,
        /// This part's frames.
        body: Frames,
    },
    /// The reply (or its last part): the request is done.
    Reply {
        /// The request.
        tag: u64,
        /// The reply frames.
        body: Frames,
    },
    /// The broker's definite failure reply: the request is done.
    Failed {
        /// The request.
        tag: u64,
        /// The broker's reason.
        reason: String,
    },
    /// No reply within the timeout: the request is forgotten.
    TimedOut {
        /// The request.
        tag: u64,
    },
}

/// An asynchronous Majordomo 0.2 client.
pub struct AsyncClient {
    socket: zmq::Socket,
    timeout: Duration,
    next_tag: u64,
    /// Service asked, by tag, for requests in flight.
    pending: HashMap<u64, Bytes>,
    /// Deadlines in send order (the timeout is fixed, so this is also
    /// deadline order); entries of finished requests are skipped.
    deadlines: VecDeque<(Instant, u64)>,
    malformed: u64,
}

impl AsyncClient {
    /// Connects a DEALER to the broker's clients' `endpoint`; requests
    /// without a FINAL after `timeout` time out.
    pub fn connect(
        ctx: &zmq::Context,
        endpoint: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Self::connect_with(ctx, endpoint, timeout, None)
    }

    /// [`AsyncClient::connect`], with CURVE if `curve` is given.
    pub fn connect_with(
        ctx: &zmq::Context,
        endpoint: &str,
        timeout: Duration,
        curve: Option<&CurveClient>,
    ) -> Result<Self, ClientError> {
        let mut socket = ctx.socket(zmq::DEALER)?;
        socket.set_linger(0)?;
        frames::set_io_batch(&mut socket)?;
        CurveClient::apply_opt(curve, &socket)?;
        socket.set_rcvhwm(0)?;
        socket.set_sndhwm(0)?;
        socket.connect(endpoint)?;
        Ok(AsyncClient {
            socket,
            timeout,
            next_tag: 0,
            pending: HashMap::new(),
            deadlines: VecDeque::new(),
            malformed: 0,
        })
    }

    /// Sends a request to `service`; returns its tag.
    pub fn send(&mut self, service: &[u8], body: Frames) -> Result<u64, ClientError> {
        if body.is_empty() {
            return Err(ClientError::EmptyRequest);
        }
        self.next_tag += 1;
        let tag = self.next_tag;
        let service = Bytes::copy_from_slice(service);
        let mut msg = vec![Bytes::copy_from_slice(&tag.to_be_bytes()), Bytes::new()];
        msg.extend(
            ClientMessage {
                command: ClientCommand::Request,
                service: service.clone(),
                body,
            }
            .encode(MdpVersion::V02),
        );
        frames::send(&self.socket, &msg, 0)?;
        self.pending.insert(tag, service);
        self.deadlines
            .push_back((Instant::now() + self.timeout, tag));
        Ok(tag)
    }

    /// Requests sent and not yet finished.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Replies that could not be read or matched, ignored.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The next event, waiting up to `wait` for one; `None` when nothing
    /// happened in that time.
    pub fn poll(&mut self, wait: Duration) -> Result<Option<Event>, ClientError> {
        let until = Instant::now() + wait;
        loop {
            match frames::recv(&self.socket, zmq::DONTWAIT) {
                Ok(msg) => {
                    if let Some(event) = self.read(msg) {
                        return Ok(Some(event));
                    }
                    continue;
                }
                Err(zmq::Error::EAGAIN) => {}
                Err(e) => return Err(e.into()),
            }
            let now = Instant::now();
            if let Some(event) = self.expire(now) {
                return Ok(Some(event));
            }
            if now >= until {
                return Ok(None);
            }
            let next = self
                .deadlines
                .front()
                .map_or(until, |(at, _)| (*at).min(until));
            frames::readable(&self.socket, poll_ms(now, Some(next)))?;
        }
    }

    fn expire(&mut self, now: Instant) -> Option<Event> {
        while let Some(&(at, tag)) = self.deadlines.front() {
            if !self.pending.contains_key(&tag) {
                self.deadlines.pop_front();
                continue;
            }
            if at > now {
                return None;
            }
            self.deadlines.pop_front();
            self.pending.remove(&tag);
            debug!(tag, "request timed out");
            return Some(Event::TimedOut { tag });
        }
        None
    }

    fn read(&mut self, msg: Frames) -> Option<Event> {
        let parsed = Enveloped::decode(msg).ok().and_then(|m| {
            let tag = match m.envelope.as_slice() {
                [t] => u64::from_be_bytes(t.as_ref().try_into().ok()?),
                _ => return None,
            };
            let (version, reply) = ClientMessage::decode(m.body, true).ok()?;
            (version == MdpVersion::V02).then_some((tag, reply))
        });
        let Some((tag, reply)) = parsed else {
            self.malformed += 1;
            warn!("malformed reply ignored");
            return None;
        };
        match self.pending.get(&tag) {
            Some(service) if *service == reply.service => {}
            Some(_) => {
                self.malformed += 1;
                warn!(tag, "reply names another service: ignored");
                return None;
            }
            None => {
                debug!(tag, "reply for a finished request ignored");
                return None;
            }
        }
        Some(match reply.command {
            ClientCommand::Partial => Event::Partial {
                tag,
                body: reply.body,
            },
            _ => {
                self.pending.remove(&tag);
                match mdp::failure_reason(&reply.body) {
                    Some(reason) => Event::Failed { tag, reason },
                    None => Event::Reply {
                        tag,
                        body: reply.body,
                    },
                }
            }
        })
    }
}
