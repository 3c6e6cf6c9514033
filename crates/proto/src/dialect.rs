//! Every dialect at once: what a message arriving on a broker socket is,
//! and how the broker frames what it sends to each kind of peer.
//!
//! Majordomo messages are recognised by their header frame on either
//! socket. Frames with no header (*bare* frames) are read by the socket
//! they came in on: as a plain client request on the clients' socket, as
//! a Pirate worker message on the workers' socket. The fetch workers'
//! socket (a ROUTER that answers REQ workers as a REP would) carries only
//! asks, and the answers socket (PULL) only `task-id answer…`
//! ([`decode_answer`]).

use bytes::Bytes;

use crate::mdp::{self, ClientCommand, ClientMessage, MdpVersion, WorkerCommand};
use crate::pirate::{self, PirateDialect};
use crate::{DecodeError, Enveloped, Frames};

/// The dialect of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientDialect {
    /// Lazy Pirate over REQ: `"" body…`, no service name.
    Plain,
    /// Majordomo client of the given version.
    Mdp(MdpVersion),
}

/// The dialect of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkerDialect {
    /// A Pirate worker (Simple over REQ, or Paranoid over DEALER).
    Pirate(PirateDialect),
    /// A Majordomo worker of the given version.
    Mdp(MdpVersion),
    /// A classic fetch worker: a REQ socket that asks for a task, gets
    /// `task-id body…`, and answers on the broker's PULL socket.
    Fetch,
}

impl WorkerDialect {
    /// True when the worker sends and expects heartbeats.
    pub fn heartbeats(self) -> bool {
        !matches!(
            self,
            WorkerDialect::Pirate(PirateDialect::Simple) | WorkerDialect::Fetch
        )
    }

    /// True when a worker whose attempt timed out can still send on its
    /// connection: all but the Simple Pirate REQ worker, which must
    /// answer before it can say anything else.
    pub fn speaks_again_after_timeout(self) -> bool {
        !matches!(self, WorkerDialect::Pirate(PirateDialect::Simple))
    }

    /// True for Majordomo workers.
    pub fn is_mdp(self) -> bool {
        matches!(self, WorkerDialect::Mdp(_))
    }

    /// A request for this worker; `address` is the frame it must echo.
    pub fn request(self, address: Bytes, body: Frames) -> Frames {
        let mut out = Vec::with_capacity(5 + body.len());
        self.write_request(&mut out, address, &body);
        out
    }

    /// The same, as the broker's ROUTER sends it (the worker's identity
    /// first), appended to `out`, a list the caller may reuse: the body
    /// frames are shared, not copied.
    pub fn request_to(self, out: &mut Frames, identity: Bytes, address: Bytes, body: &[Bytes]) {
        out.reserve(6 + body.len());
        out.push(identity);
        self.write_request(out, address, body);
    }

    fn write_request(self, out: &mut Frames, address: Bytes, body: &[Bytes]) {
        match self {
            WorkerDialect::Pirate(PirateDialect::Paranoid) => {}
            // A REQ worker's delimiter; the fetch worker's REQ delimiter.
            WorkerDialect::Pirate(PirateDialect::Simple) | WorkerDialect::Fetch => {
                out.push(Bytes::new())
            }
            WorkerDialect::Mdp(v) => {
                if v == MdpVersion::V01 {
                    out.push(Bytes::new());
                }
                out.push(Bytes::from_static(v.worker_header()));
                out.push(Bytes::from_static(&[0x02]));
            }
        }
        out.push(address);
        if self != WorkerDialect::Fetch {
            out.push(Bytes::new());
        }
        out.extend(body.iter().cloned());
    }

    /// The address frame of a request framed by [`WorkerDialect::request`]
    /// (identity removed); `None` for anything else (a heartbeat, say).
    pub fn request_address(self, frames: &[Bytes]) -> Option<&Bytes> {
        let at = match self {
            WorkerDialect::Pirate(PirateDialect::Paranoid) => 0,
            WorkerDialect::Pirate(PirateDialect::Simple) | WorkerDialect::Fetch => 1,
            WorkerDialect::Mdp(MdpVersion::V01) if frames.get(2)?.as_ref() == [0x02] => 3,
            WorkerDialect::Mdp(MdpVersion::V02) if frames.get(1)?.as_ref() == [0x02] => 2,
            WorkerDialect::Mdp(_) => return None,
        };
        let min_len = if self == WorkerDialect::Fetch {
            at + 2
        } else {
            at + 3
        };
        (frames.len() >= min_len).then(|| &frames[at])
    }

    /// The broker's heartbeat, for dialects that have one.
    pub fn heartbeat(self) -> Option<Frames> {
        match self {
            WorkerDialect::Pirate(PirateDialect::Simple) | WorkerDialect::Fetch => None,
            WorkerDialect::Pirate(d) => Some(pirate::ToWorker::Heartbeat.encode(d)),
            WorkerDialect::Mdp(v) => Some(WorkerCommand::Heartbeat.encode(v)),
        }
    }

    /// The broker's DISCONNECT, for dialects that have one.
    pub fn disconnect(self) -> Option<Frames> {
        match self {
            WorkerDialect::Pirate(_) | WorkerDialect::Fetch => None,
            WorkerDialect::Mdp(v) => Some(WorkerCommand::Disconnect.encode(v)),
        }
    }
}

/// A worker's message to the broker, whatever its dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerMessage {
    /// Ready for work: for `service` (Majordomo) or the broker's default
    /// service (`None`, Pirate).
    Ready {
        /// The service named, if the dialect names one.
        service: Option<Bytes>,
        /// Requests it accepts at once (1 unless it announced more).
        credit: u32,
    },
    /// A sign of life.
    Heartbeat,
    /// Part of a reply (MDP/0.2), more to come.
    Partial(Enveloped),
    /// The reply, with the address frame the broker sent echoed.
    Reply(Enveloped),
    /// The worker is leaving (Majordomo).
    Disconnect,
    /// A valid command that a broker never receives (a Majordomo worker
    /// sending REQUEST): the spec answers it with DISCONNECT.
    Unexpected {
        /// The command's name.
        command: &'static str,
    },
}

/// Where a client's reply goes, besides its ROUTER identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath {
    /// The client's dialect.
    pub dialect: ClientDialect,
    /// Envelope frames the client put before its delimiter (none for REQ).
    pub envelope: Frames,
    /// Whether the message had a delimiter frame: always for plain and
    /// MDP/0.1 clients, for MDP/0.2 only when it carried an envelope.
    pub delimited: bool,
}

impl ReturnPath {
    /// True when the client takes replies in several parts (MDP/0.2).
    pub fn streams(&self) -> bool {
        self.dialect == ClientDialect::Mdp(MdpVersion::V02)
    }

    /// Frames a reply (`last`) or a partial reply (`!last`, MDP/0.2 only)
    /// from `service`.
    pub fn reply(&self, service: &Bytes, body: Frames, last: bool) -> Frames {
        let mut out = Vec::with_capacity(self.envelope.len() + 4 + body.len());
        self.write_reply(&mut out, service, body, last);
        out
    }

    /// The same, as the broker's ROUTER sends it (the client's identity
    /// first), appended to `out`, a list the caller may reuse.
    pub fn reply_to(
        &self,
        out: &mut Frames,
        identity: Bytes,
        service: &Bytes,
        body: Frames,
        last: bool,
    ) {
        out.reserve(self.envelope.len() + 5 + body.len());
        out.push(identity);
        self.write_reply(out, service, body, last);
    }

    /// Appends the reply's frames; `body`'s list is given back to the
    /// thread's spares ([`crate::lists`]).
    fn write_reply(&self, out: &mut Frames, service: &Bytes, mut body: Frames, last: bool) {
        out.extend(self.envelope.iter().cloned());
        if self.delimited {
            out.push(Bytes::new());
        }
        if let ClientDialect::Mdp(v) = self.dialect {
            out.push(Bytes::from_static(v.client_header()));
            if v == MdpVersion::V02 {
                out.push(Bytes::from_static(if last { &[0x03] } else { &[0x02] }));
            }
            out.push(service.clone());
        }
        out.append(&mut body);
        crate::lists::give(body);
    }

    /// Frames the definite failure reply: one empty frame for plain
    /// clients, [`mdp::failure_body`] for Majordomo clients.
    pub fn failure(&self, service: &Bytes, reason: &str) -> Frames {
        self.reply(service, self.failure_body(reason), true)
    }

    /// The failure reply with the client's identity first, appended to
    /// `out`.
    pub fn failure_to(&self, out: &mut Frames, identity: Bytes, service: &Bytes, reason: &str) {
        self.reply_to(out, identity, service, self.failure_body(reason), true)
    }

    fn failure_body(&self, reason: &str) -> Frames {
        match self.dialect {
            ClientDialect::Plain => vec![Bytes::new()],
            ClientDialect::Mdp(_) => mdp::failure_body(reason),
        }
    }
}

/// A message that arrived on a broker socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A client's request.
    Request {
        /// How to answer it.
        path: ReturnPath,
        /// The service named (Majordomo) or `None` (plain: the default).
        service: Option<Bytes>,
        /// At least one frame.
        body: Frames,
    },
    /// A worker's message.
    Worker {
        /// The worker's dialect.
        dialect: WorkerDialect,
        /// What it said.
        message: WorkerMessage,
    },
}

/// How to read bare frames (no Majordomo header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// As a plain client request (the clients' socket).
    Client,
    /// As a Pirate worker message (the workers' socket).
    Worker,
    /// As a fetch worker's ask (the fetch workers' socket): no header is
    /// looked for.
    Fetch,
}

const FETCH: &str = "fetch worker";

/// Reads a fetch worker's ask as the broker's ROUTER sees it: the REQ
/// delimiter, then any one frame.
fn decode_ask(frames: Frames) -> Result<Inbound, DecodeError> {
    match frames.as_slice() {
        [] => Err(DecodeError::Empty),
        [delimiter, ..] if !delimiter.is_empty() => Err(DecodeError::MissingDelimiter),
        [_] => Err(DecodeError::MissingFrame {
            dialect: FETCH,
            what: "ask",
        }),
        [_, _] => Ok(Inbound::Worker {
            dialect: WorkerDialect::Fetch,
            message: WorkerMessage::Ready {
                service: None,
                credit: 1,
            },
        }),
        _ => Err(DecodeError::ExtraFrames {
            dialect: FETCH,
            command: "ask",
        }),
    }
}

/// Reads an answer from the broker's PULL socket: `task-id answer…`
/// with at least one answer frame. The task id is the envelope.
pub fn decode_answer(mut frames: Frames) -> Result<Enveloped, DecodeError> {
    if frames.is_empty() {
        return Err(DecodeError::Empty);
    }
    let body = frames.split_off(1);
    if body.is_empty() {
        return Err(DecodeError::MissingBody);
    }
    Ok(Enveloped {
        envelope: frames,
        body,
    })
}

impl Inbound {
    /// Reads what a broker socket received (identity frame removed).
    pub fn decode(frames: Frames, bare: Bare) -> Result<Self, DecodeError> {
        if bare == Bare::Fetch {
            return decode_ask(frames);
        }
        let (first, second) = match frames.as_slice() {
            [] => return Err(DecodeError::Empty),
            [first] => (first, None),
            [first, second, ..] => (first, Some(second)),
        };
        if first.as_ref() == mdp::MDPW02
            || (first.is_empty() && second.is_some_and(|s| s.as_ref() == mdp::MDPW01))
        {
            let (version, cmd) = WorkerCommand::decode(frames)?;
            return Ok(Self::mdp_worker(version, cmd));
        }
        if first.as_ref() == mdp::MDPC02 {
            return Self::mdp_client(Vec::new(), false, frames);
        }
        if let Some(delimiter) = frames.iter().position(|f| f.is_empty()) {
            let header = frames.get(delimiter + 1).map(|h| h.as_ref());
            if header == Some(mdp::MDPC01) || header == Some(mdp::MDPC02) {
                let mut frames = frames;
                let mut rest = crate::lists::take();
                rest.extend(frames.drain(delimiter + 1..));
                frames.pop();
                return Self::mdp_client(frames, true, rest);
            }
        }
        match bare {
            Bare::Client => {
                let msg = Enveloped::decode(frames)?;
                Ok(Inbound::Request {
                    path: ReturnPath {
                        dialect: ClientDialect::Plain,
                        envelope: msg.envelope,
                        delimited: true,
                    },
                    service: None,
                    body: msg.body,
                })
            }
            Bare::Fetch => decode_ask(frames),
            Bare::Worker => {
                let (d, msg) = pirate::FromWorker::decode(frames)?;
                let message = match msg {
                    pirate::FromWorker::Ready => WorkerMessage::Ready {
                        service: None,
                        credit: 1,
                    },
                    pirate::FromWorker::ReadyWithCredit(credit) => WorkerMessage::Ready {
                        service: None,
                        credit,
                    },
                    pirate::FromWorker::Heartbeat => WorkerMessage::Heartbeat,
                    pirate::FromWorker::Reply(r) => WorkerMessage::Reply(r),
                };
                Ok(Inbound::Worker {
                    dialect: WorkerDialect::Pirate(d),
                    message,
                })
            }
        }
    }

    fn mdp_client(envelope: Frames, delimited: bool, rest: Frames) -> Result<Self, DecodeError> {
        let (version, msg) = ClientMessage::decode(rest, false)?;
        if msg.command != ClientCommand::Request {
            return Err(DecodeError::Unexpected {
                dialect: "MDP/0.2 client",
                command: if msg.command == ClientCommand::Partial {
                    "PARTIAL"
                } else {
                    "FINAL"
                },
            });
        }
        Ok(Inbound::Request {
            path: ReturnPath {
                dialect: ClientDialect::Mdp(version),
                envelope,
                delimited,
            },
            service: Some(msg.service),
            body: msg.body,
        })
    }

    fn mdp_worker(version: MdpVersion, cmd: WorkerCommand) -> Self {
        let message = match cmd {
            WorkerCommand::Ready { service } => WorkerMessage::Ready {
                service: Some(service),
                credit: 1,
            },
            WorkerCommand::Heartbeat => WorkerMessage::Heartbeat,
            WorkerCommand::Partial(m) => WorkerMessage::Partial(m),
            WorkerCommand::Final(m) => WorkerMessage::Reply(m),
            WorkerCommand::Disconnect => WorkerMessage::Disconnect,
            other @ WorkerCommand::Request(_) => WorkerMessage::Unexpected {
                command: other.name(),
            },
        };
        Inbound::Worker {
            dialect: WorkerDialect::Mdp(version),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::any_frame;
    use proptest::prelude::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn byte(x: u8) -> Bytes {
        Bytes::copy_from_slice(&[x])
    }

    #[test]
    fn headers_win_over_the_socket() {
        // An MDP/0.1 worker on the clients' socket.
        let ready = vec![Bytes::new(), b("MDPW01"), byte(1), b("echo")];
        assert_eq!(
            Inbound::decode(ready, Bare::Client).unwrap(),
            Inbound::Worker {
                dialect: WorkerDialect::Mdp(MdpVersion::V01),
                message: WorkerMessage::Ready {
                    service: Some(b("echo")),
                    credit: 1
                }
            }
        );
        // An MDP/0.1 client (REQ) on the workers' socket.
        let req = vec![Bytes::new(), b("MDPC01"), b("echo"), b("hi")];
        let Inbound::Request {
            path,
            service,
            body,
        } = Inbound::decode(req, Bare::Worker).unwrap()
        else {
            panic!("not a request")
        };
        assert_eq!(path.dialect, ClientDialect::Mdp(MdpVersion::V01));
        assert_eq!((service, body), (Some(b("echo")), vec![b("hi")]));
    }

    #[test]
    fn bare_frames_follow_the_socket() {
        let ready = vec![byte(1)];
        assert!(matches!(
            Inbound::decode(ready.clone(), Bare::Worker).unwrap(),
            Inbound::Worker {
                dialect: WorkerDialect::Pirate(PirateDialect::Paranoid),
                ..
            }
        ));
        assert_eq!(
            Inbound::decode(ready, Bare::Client),
            Err(DecodeError::MissingDelimiter)
        );
        let plain = vec![Bytes::new(), b("hello")];
        assert!(matches!(
            Inbound::decode(plain, Bare::Client).unwrap(),
            Inbound::Request { service: None, .. }
        ));
    }

    #[test]
    fn mdp2_client_with_envelope_gets_it_back() {
        let req = vec![
            b("tag-7"),
            Bytes::new(),
            b("MDPC02"),
            byte(1),
            b("s"),
            b("x"),
        ];
        let Inbound::Request { path, service, .. } = Inbound::decode(req, Bare::Client).unwrap()
        else {
            panic!("not a request")
        };
        let service = service.unwrap();
        assert_eq!(
            path.reply(&service, vec![b("part")], false),
            vec![
                b("tag-7"),
                Bytes::new(),
                b("MDPC02"),
                byte(2),
                b("s"),
                b("part")
            ]
        );
        let bare = vec![b("MDPC02"), byte(1), b("s"), b("x")];
        let Inbound::Request { path, .. } = Inbound::decode(bare, Bare::Client).unwrap() else {
            panic!("not a request")
        };
        assert_eq!(
            path.failure(&service, "why"),
            vec![b("MDPC02"), byte(3), b("s"), Bytes::new(), b("why")]
        );
    }

    #[test]
    fn client_sending_a_reply_command_is_refused() {
        let partial = vec![b("MDPC02"), byte(2), b("s"), b("x")];
        assert_eq!(
            Inbound::decode(partial, Bare::Client),
            Err(DecodeError::Unexpected {
                dialect: "MDP/0.2 client",
                command: "PARTIAL"
            })
        );
    }

    #[test]
    fn worker_request_command_is_unexpected_not_malformed() {
        let req = vec![b("MDPW02"), byte(2), b("a"), Bytes::new(), b("x")];
        assert_eq!(
            Inbound::decode(req, Bare::Worker).unwrap(),
            Inbound::Worker {
                dialect: WorkerDialect::Mdp(MdpVersion::V02),
                message: WorkerMessage::Unexpected { command: "REQUEST" }
            }
        );
    }

    #[test]
    fn a_request_s_address_is_found_in_every_dialect() {
        let body = vec![b("x")];
        for d in [
            WorkerDialect::Pirate(PirateDialect::Paranoid),
            WorkerDialect::Pirate(PirateDialect::Simple),
            WorkerDialect::Mdp(MdpVersion::V01),
            WorkerDialect::Mdp(MdpVersion::V02),
            WorkerDialect::Fetch,
        ] {
            let frames = d.request(b("addr"), body.clone());
            assert_eq!(d.request_address(&frames), Some(&b("addr")), "{d:?}");
            if let Some(hb) = d.heartbeat() {
                assert_eq!(d.request_address(&hb), None, "{d:?}");
            }
        }
    }

    #[test]
    fn plain_failure_is_one_empty_frame() {
        let path = ReturnPath {
            dialect: ClientDialect::Plain,
            envelope: vec![],
            delimited: true,
        };
        assert_eq!(
            path.failure(&b("default"), "x"),
            vec![Bytes::new(), Bytes::new()]
        );
    }

    #[test]
    fn fetch_asks_tasks_and_answers() {
        assert_eq!(
            Inbound::decode(vec![Bytes::new(), b("ready")], Bare::Fetch).unwrap(),
            Inbound::Worker {
                dialect: WorkerDialect::Fetch,
                message: WorkerMessage::Ready {
                    service: None,
                    credit: 1
                }
            }
        );
        // Headers mean nothing on the fetch socket.
        assert!(Inbound::decode(vec![Bytes::new(), b("MDPW01")], Bare::Fetch).is_ok());
        assert_eq!(
            Inbound::decode(vec![b("ask")], Bare::Fetch),
            Err(DecodeError::MissingDelimiter)
        );
        assert_eq!(
            Inbound::decode(vec![Bytes::new(), b("a"), b("b")], Bare::Fetch),
            Err(DecodeError::ExtraFrames {
                dialect: "fetch worker",
                command: "ask"
            })
        );
        assert_eq!(
            WorkerDialect::Fetch.request(b("id"), vec![b("task")]),
            vec![Bytes::new(), b("id"), b("task")]
        );
        assert_eq!(
            decode_answer(vec![b("id"), b("x"), b("y")]).unwrap(),
            Enveloped {
                envelope: vec![b("id")],
                body: vec![b("x"), b("y")]
            }
        );
        assert_eq!(decode_answer(vec![b("id")]), Err(DecodeError::MissingBody));
        assert_eq!(decode_answer(vec![]), Err(DecodeError::Empty));
    }

    fn header() -> impl Strategy<Value = Frames> {
        prop_oneof![
            Just(vec![]),
            Just(vec![Bytes::new(), b("MDPW01")]),
            Just(vec![b("MDPW02")]),
            Just(vec![b("MDPC02")]),
            Just(vec![Bytes::new(), b("MDPC01")]),
            Just(vec![b("env"), Bytes::new(), b("MDPC02")]),
        ]
    }

    proptest! {
        #[test]
        fn decode_never_panics(
            head in header(),
            cmd in 0u8..8,
            rest in proptest::collection::vec(any_frame(), 0..5),
            client: bool,
        ) {
            let mut frames = head;
            frames.push(byte(cmd));
            frames.extend(rest);
            let bare = if client { Bare::Client } else { Bare::Worker };
            let _ = Inbound::decode(frames.clone(), bare);
            let _ = Inbound::decode(frames.clone(), Bare::Fetch);
            let _ = decode_answer(frames);
        }
    }
}
