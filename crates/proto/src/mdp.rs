//! Majordomo: 7/MDP (version 0.1) and 18/MDP (version 0.2), clients and
//! workers, both directions.
//!
//! Every Majordomo message carries a header frame naming its protocol and
//! version (`MDPC01`, `MDPW01`, `MDPC02`, `MDPW02`), so a message is
//! recognised by its content whichever socket it arrives on.
//!
//! Workers (DEALER) frame their commands the same way in both directions,
//! so one [`WorkerCommand`] type serves the broker and the worker:
//! - 0.1: `"" "MDPW01" command …` — READY 1, REQUEST 2, REPLY 3,
//!   HEARTBEAT 4, DISCONNECT 5;
//! - 0.2: `"MDPW02" command …` — READY 1, REQUEST 2, PARTIAL 3, FINAL 4,
//!   HEARTBEAT 5, DISCONNECT 6.
//!
//! Clients ([`ClientMessage`]) are shown after their envelope: 0.1
//! clients are REQ sockets (`MDPC01 service body…` after the delimiter),
//! 0.2 clients are DEALERs (`MDPC02 command service body…`, REQUEST 1,
//! PARTIAL 2, FINAL 3).

use bytes::Bytes;

use crate::{DecodeError, Enveloped, Frames};

/// Header of MDP/0.1 client messages.
pub const MDPC01: &[u8] = b"MDPC01";
/// Header of MDP/0.1 worker messages.
pub const MDPW01: &[u8] = b"MDPW01";
/// Header of MDP/0.2 client messages.
pub const MDPC02: &[u8] = b"MDPC02";
/// Header of MDP/0.2 worker messages.
pub const MDPW02: &[u8] = b"MDPW02";

/// The Majordomo version a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MdpVersion {
    /// 7/MDP: synchronous REPLY, leading empty frame on worker commands.
    V01,
    /// 18/MDP: PARTIAL and FINAL replies, no leading empty frame.
    V02,
}

impl MdpVersion {
    /// The client header frame of this version.
    pub fn client_header(self) -> &'static [u8] {
        match self {
            MdpVersion::V01 => MDPC01,
            MdpVersion::V02 => MDPC02,
        }
    }

    /// The worker header frame of this version.
    pub fn worker_header(self) -> &'static [u8] {
        match self {
            MdpVersion::V01 => MDPW01,
            MdpVersion::V02 => MDPW02,
        }
    }

    fn worker_dialect(self) -> &'static str {
        match self {
            MdpVersion::V01 => "MDP/0.1 worker",
            MdpVersion::V02 => "MDP/0.2 worker",
        }
    }

    fn client_dialect(self) -> &'static str {
        match self {
            MdpVersion::V01 => "MDP/0.1 client",
            MdpVersion::V02 => "MDP/0.2 client",
        }
    }
}

/// A Majordomo worker command (either direction).
///
/// In `Request`, `Partial` and `Final` the envelope holds the client
/// address frame that the broker chose and the worker echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerCommand {
    /// Worker → broker: serve this service.
    Ready {
        /// The service name.
        service: Bytes,
    },
    /// Broker → worker: a request to answer.
    Request(Enveloped),
    /// Worker → broker, 0.2 only: part of a reply, more to come.
    Partial(Enveloped),
    /// Worker → broker: the reply (REPLY in 0.1, FINAL in 0.2).
    Final(Enveloped),
    /// Either way: a sign of life.
    Heartbeat,
    /// Either way: the connection is over.
    Disconnect,
}

impl WorkerCommand {
    /// The command's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            WorkerCommand::Ready { .. } => "READY",
            WorkerCommand::Request(_) => "REQUEST",
            WorkerCommand::Partial(_) => "PARTIAL",
            WorkerCommand::Final(_) => "FINAL",
            WorkerCommand::Heartbeat => "HEARTBEAT",
            WorkerCommand::Disconnect => "DISCONNECT",
        }
    }

    fn byte(&self, version: MdpVersion) -> u8 {
        match (self, version) {
            (WorkerCommand::Ready { .. }, _) => 0x01,
            (WorkerCommand::Request(_), _) => 0x02,
            (WorkerCommand::Partial(_), _) => 0x03,
            (WorkerCommand::Final(_), MdpVersion::V01) => 0x03,
            (WorkerCommand::Final(_), MdpVersion::V02) => 0x04,
            (WorkerCommand::Heartbeat, MdpVersion::V01) => 0x04,
            (WorkerCommand::Heartbeat, MdpVersion::V02) => 0x05,
            (WorkerCommand::Disconnect, MdpVersion::V01) => 0x05,
            (WorkerCommand::Disconnect, MdpVersion::V02) => 0x06,
        }
    }

    /// Encodes as sent on a DEALER (worker side) or after the identity
    /// frame (broker side). `Partial` in 0.1 has no wire form and is sent
    /// as `Final`.
    pub fn encode(self, version: MdpVersion) -> Frames {
        let byte = self.byte(version);
        let mut frames = Vec::with_capacity(4);
        if version == MdpVersion::V01 {
            frames.push(Bytes::new());
        }
        frames.push(Bytes::from_static(version.worker_header()));
        frames.push(Bytes::copy_from_slice(&[byte]));
        match self {
            WorkerCommand::Ready { service } => frames.push(service),
            WorkerCommand::Request(m) | WorkerCommand::Partial(m) | WorkerCommand::Final(m) => {
                frames.extend(m.encode())
            }
            WorkerCommand::Heartbeat | WorkerCommand::Disconnect => {}
        }
        frames
    }

    /// Decodes a worker command of either version, recognised by its
    /// header.
    pub fn decode(mut frames: Frames) -> Result<(MdpVersion, Self), DecodeError> {
        let version = match frames.as_slice() {
            [] => return Err(DecodeError::Empty),
            [first, header, ..] if first.is_empty() && header.as_ref() == MDPW01 => {
                frames.drain(..2);
                MdpVersion::V01
            }
            [header, ..] if header.as_ref() == MDPW02 => {
                frames.remove(0);
                MdpVersion::V02
            }
            _ => {
                return Err(DecodeError::BadHeader {
                    expected: "MDPW01 or MDPW02",
                })
            }
        };
        let dialect = version.worker_dialect();
        if frames.is_empty() {
            return Err(DecodeError::MissingFrame {
                dialect,
                what: "command",
            });
        }
        let byte = command_byte(dialect, &frames.remove(0))?;
        let cmd = match (byte, version) {
            (0x01, _) => match <[Bytes; 1]>::try_from(frames) {
                Ok([service]) if !service.is_empty() => WorkerCommand::Ready { service },
                Ok(_) => {
                    return Err(DecodeError::MissingFrame {
                        dialect,
                        what: "service name",
                    })
                }
                Err(frames) if frames.is_empty() => {
                    return Err(DecodeError::MissingFrame {
                        dialect,
                        what: "service name",
                    })
                }
                Err(_) => {
                    return Err(DecodeError::ExtraFrames {
                        dialect,
                        command: "READY",
                    })
                }
            },
            (0x02, _) => WorkerCommand::Request(addressed(dialect, frames)?),
            (0x03, MdpVersion::V01) | (0x04, MdpVersion::V02) => {
                WorkerCommand::Final(addressed(dialect, frames)?)
            }
            (0x03, MdpVersion::V02) => WorkerCommand::Partial(addressed(dialect, frames)?),
            (0x04, MdpVersion::V01) | (0x05, MdpVersion::V02) => {
                no_more(dialect, "HEARTBEAT", &frames)?;
                WorkerCommand::Heartbeat
            }
            (0x05, MdpVersion::V01) | (0x06, MdpVersion::V02) => {
                no_more(dialect, "DISCONNECT", &frames)?;
                WorkerCommand::Disconnect
            }
            (byte, _) => return Err(DecodeError::UnknownCommand { dialect, byte }),
        };
        Ok((version, cmd))
    }
}

fn command_byte(dialect: &'static str, frame: &Bytes) -> Result<u8, DecodeError> {
    match frame.as_ref() {
        [byte] => Ok(*byte),
        other => Err(DecodeError::BadCommandFrame {
            dialect,
            len: other.len(),
        }),
    }
}

fn no_more(
    dialect: &'static str,
    command: &'static str,
    rest: &[Bytes],
) -> Result<(), DecodeError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::ExtraFrames { dialect, command })
    }
}

/// `address… "" body…` with at least one address frame.
fn addressed(dialect: &'static str, frames: Frames) -> Result<Enveloped, DecodeError> {
    if frames.is_empty() {
        return Err(DecodeError::MissingFrame {
            dialect,
            what: "client address",
        });
    }
    let msg = Enveloped::decode(frames)?;
    if msg.envelope.is_empty() {
        return Err(DecodeError::MissingEnvelope { dialect });
    }
    Ok(msg)
}

/// What a client message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCommand {
    /// Client → broker.
    Request,
    /// Broker → client, 0.2 only: part of the reply, more to come.
    Partial,
    /// Broker → client: the reply (the only reply form of 0.1).
    Final,
}

/// A Majordomo client message, without envelope or delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// Request or reply.
    pub command: ClientCommand,
    /// The service asked for (in replies: the service that answered).
    pub service: Bytes,
    /// At least one body frame.
    pub body: Frames,
}

impl ClientMessage {
    /// Encodes for `version`. In 0.1, requests and replies share one
    /// shape; a `Partial` has no 0.1 form and is encoded as the reply.
    pub fn encode(self, version: MdpVersion) -> Frames {
        let mut frames = Vec::with_capacity(3 + self.body.len());
        frames.push(Bytes::from_static(version.client_header()));
        if version == MdpVersion::V02 {
            let byte = match self.command {
                ClientCommand::Request => 0x01,
                ClientCommand::Partial => 0x02,
                ClientCommand::Final => 0x03,
            };
            frames.push(Bytes::copy_from_slice(&[byte]));
        }
        frames.push(self.service);
        frames.extend(self.body);
        frames
    }

    /// Decodes a client message whose header names `version`. A 0.1
    /// message decodes as `Request` when `replies` is false (the broker
    /// reading a request) and as `Final` when true (a client reading its
    /// reply).
    pub fn decode(mut frames: Frames, replies: bool) -> Result<(MdpVersion, Self), DecodeError> {
        let header = frames.first().ok_or(DecodeError::Empty)?;
        let version = match header.as_ref() {
            MDPC01 => MdpVersion::V01,
            MDPC02 => MdpVersion::V02,
            _ => {
                return Err(DecodeError::BadHeader {
                    expected: "MDPC01 or MDPC02",
                })
            }
        };
        let dialect = version.client_dialect();
        // Where the service name is: after the header, and the command
        // frame of 0.2.
        let (command, at) = match version {
            MdpVersion::V01 if replies => (ClientCommand::Final, 1),
            MdpVersion::V01 => (ClientCommand::Request, 1),
            MdpVersion::V02 => {
                let frame = frames.get(1).ok_or(DecodeError::MissingFrame {
                    dialect,
                    what: "command",
                })?;
                let command = match command_byte(dialect, frame)? {
                    0x01 => ClientCommand::Request,
                    0x02 => ClientCommand::Partial,
                    0x03 => ClientCommand::Final,
                    byte => return Err(DecodeError::UnknownCommand { dialect, byte }),
                };
                (command, 2)
            }
        };
        let service = match frames.get_mut(at) {
            Some(service) => std::mem::take(service),
            None => {
                return Err(DecodeError::MissingFrame {
                    dialect,
                    what: "service name",
                })
            }
        };
        if frames.len() == at + 1 {
            return Err(DecodeError::MissingBody);
        }
        // The body keeps the message's list.
        frames.drain(..=at);
        Ok((
            version,
            ClientMessage {
                command,
                service,
                body: frames,
            },
        ))
    }
}

/// The body of the broker's failure reply to Majordomo clients: an empty
/// frame, then the reason in UTF-8. It has the shape of any other reply
/// (header, the requested service, body), so unmodified clients accept
/// it.
pub fn failure_body(reason: &str) -> Frames {
    vec![Bytes::new(), Bytes::copy_from_slice(reason.as_bytes())]
}

/// The reason, when `body` is a Majordomo failure reply's body.
pub fn failure_reason(body: &[Bytes]) -> Option<String> {
    match body {
        [marker, reason] if marker.is_empty() => Some(String::from_utf8_lossy(reason).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::tests::{any_frame, nonempty_frame};
    use proptest::prelude::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn byte(x: u8) -> Bytes {
        Bytes::copy_from_slice(&[x])
    }

    #[test]
    fn zguide_worker_frames_decode() {
        let ready = vec![Bytes::new(), b("MDPW01"), byte(1), b("echo")];
        assert_eq!(
            WorkerCommand::decode(ready).unwrap(),
            (MdpVersion::V01, WorkerCommand::Ready { service: b("echo") })
        );
        let fin = vec![b("MDPW02"), byte(4), b("addr"), Bytes::new(), b("hi")];
        assert_eq!(
            WorkerCommand::decode(fin).unwrap(),
            (
                MdpVersion::V02,
                WorkerCommand::Final(Enveloped {
                    envelope: vec![b("addr")],
                    body: vec![b("hi")]
                })
            )
        );
        let partial = vec![b("MDPW02"), byte(3), b("a"), Bytes::new(), b("x")];
        assert!(matches!(
            WorkerCommand::decode(partial).unwrap().1,
            WorkerCommand::Partial(_)
        ));
        let hb01 = vec![Bytes::new(), b("MDPW01"), byte(4)];
        assert_eq!(
            WorkerCommand::decode(hb01).unwrap().1,
            WorkerCommand::Heartbeat
        );
        let dc02 = vec![b("MDPW02"), byte(6)];
        assert_eq!(
            WorkerCommand::decode(dc02).unwrap().1,
            WorkerCommand::Disconnect
        );
    }

    #[test]
    fn malformed_worker_commands_say_why() {
        let v1 = |rest: &[Bytes]| {
            let mut f = vec![Bytes::new(), b("MDPW01")];
            f.extend_from_slice(rest);
            WorkerCommand::decode(f)
        };
        assert_eq!(
            WorkerCommand::decode(vec![b("MDPW03"), byte(1)]),
            Err(DecodeError::BadHeader {
                expected: "MDPW01 or MDPW02"
            })
        );
        assert_eq!(
            v1(&[]),
            Err(DecodeError::MissingFrame {
                dialect: "MDP/0.1 worker",
                what: "command"
            })
        );
        assert_eq!(
            v1(&[byte(9)]),
            Err(DecodeError::UnknownCommand {
                dialect: "MDP/0.1 worker",
                byte: 9
            })
        );
        assert_eq!(
            v1(&[byte(1)]),
            Err(DecodeError::MissingFrame {
                dialect: "MDP/0.1 worker",
                what: "service name"
            })
        );
        assert_eq!(
            v1(&[byte(1), b("a"), b("b")]),
            Err(DecodeError::ExtraFrames {
                dialect: "MDP/0.1 worker",
                command: "READY"
            })
        );
        assert_eq!(
            v1(&[byte(3), b("addr"), b("no delimiter")]),
            Err(DecodeError::MissingDelimiter)
        );
        assert_eq!(
            v1(&[byte(4), b("extra")]),
            Err(DecodeError::ExtraFrames {
                dialect: "MDP/0.1 worker",
                command: "HEARTBEAT"
            })
        );
        assert_eq!(
            v1(&[b("READY")]),
            Err(DecodeError::BadCommandFrame {
                dialect: "MDP/0.1 worker",
                len: 5
            })
        );
    }

    #[test]
    fn client_messages_decode_and_fail_clearly() {
        let req = vec![b("MDPC01"), b("echo"), b("hello")];
        assert_eq!(
            ClientMessage::decode(req, false).unwrap(),
            (
                MdpVersion::V01,
                ClientMessage {
                    command: ClientCommand::Request,
                    service: b("echo"),
                    body: vec![b("hello")]
                }
            )
        );
        assert_eq!(
            ClientMessage::decode(vec![b("MDPC01"), b("echo")], false),
            Err(DecodeError::MissingBody)
        );
        assert_eq!(
            ClientMessage::decode(vec![b("MDPC02"), byte(7), b("s"), b("x")], false),
            Err(DecodeError::UnknownCommand {
                dialect: "MDP/0.2 client",
                byte: 7
            })
        );
        assert_eq!(
            ClientMessage::decode(vec![b("MDPC02")], false),
            Err(DecodeError::MissingFrame {
                dialect: "MDP/0.2 client",
                what: "command"
            })
        );
    }

    #[test]
    fn failure_body_is_recognised() {
        let body = failure_body("all 3 attempts failed");
        assert_eq!(
            failure_reason(&body).as_deref(),
            Some("all 3 attempts failed")
        );
        assert_eq!(failure_reason(&[b("200")]), None);
    }

    fn version() -> impl Strategy<Value = MdpVersion> {
        prop_oneof![Just(MdpVersion::V01), Just(MdpVersion::V02)]
    }

    fn enveloped() -> impl Strategy<Value = Enveloped> {
        (
            proptest::collection::vec(nonempty_frame(), 1..3),
            proptest::collection::vec(any_frame(), 1..4),
        )
            .prop_map(|(envelope, body)| Enveloped { envelope, body })
    }

    fn worker_command(v: MdpVersion) -> BoxedStrategy<WorkerCommand> {
        let common = prop_oneof![
            nonempty_frame().prop_map(|service| WorkerCommand::Ready { service }),
            enveloped().prop_map(WorkerCommand::Request),
            enveloped().prop_map(WorkerCommand::Final),
            Just(WorkerCommand::Heartbeat),
            Just(WorkerCommand::Disconnect),
        ];
        match v {
            MdpVersion::V01 => common.boxed(),
            MdpVersion::V02 => {
                prop_oneof![common, enveloped().prop_map(WorkerCommand::Partial)].boxed()
            }
        }
    }

    fn client_message(v: MdpVersion) -> BoxedStrategy<ClientMessage> {
        let commands = match v {
            MdpVersion::V01 => Just(ClientCommand::Request).boxed(),
            MdpVersion::V02 => prop_oneof![
                Just(ClientCommand::Request),
                Just(ClientCommand::Partial),
                Just(ClientCommand::Final)
            ]
            .boxed(),
        };
        (
            commands,
            any_frame(),
            proptest::collection::vec(any_frame(), 1..4),
        )
            .prop_map(|(command, service, body)| ClientMessage {
                command,
                service,
                body,
            })
            .boxed()
    }

    proptest! {
        #[test]
        fn worker_commands_round_trip((v, m) in version().prop_flat_map(|v| (Just(v), worker_command(v)))) {
            prop_assert_eq!(WorkerCommand::decode(m.clone().encode(v)), Ok((v, m)));
        }

        #[test]
        fn client_messages_round_trip((v, m) in version().prop_flat_map(|v| (Just(v), client_message(v)))) {
            prop_assert_eq!(ClientMessage::decode(m.clone().encode(v), false), Ok((v, m)));
        }

        #[test]
        fn decoders_never_panic(frames in proptest::collection::vec(any_frame(), 0..7), replies: bool) {
            let _ = WorkerCommand::decode(frames.clone());
            let _ = ClientMessage::decode(frames, replies);
        }
    }
}
