//! Simple Pirate and Paranoid Pirate (6/PPP) worker messages.
//!
//! Both dialects carry the same commands: READY `0x01`, HEARTBEAT `0x02`
//! (Paranoid only) and requests or replies shaped `envelope… "" body…`.
//! They differ in the socket the worker uses: a Simple Pirate worker is a
//! REQ socket, so the broker's ROUTER sees an extra empty delimiter frame
//! in front of everything it sends; a Paranoid Pirate worker is a DEALER
//! and adds nothing.
//!
//! The *bare* framing (`FromWorker::encode`, `ToWorker::decode`) is what a
//! worker application sends and receives: a REQ socket adds and strips
//! the leading delimiter itself, so both dialects look the same from the
//! worker's side. The broker's side (`FromWorker::decode`,
//! `ToWorker::encode`) deals with the delimiter.

use bytes::Bytes;

use crate::{DecodeError, Enveloped, Frames};

/// READY: the worker is ready for work.
pub const READY: u8 = 0x01;
/// HEARTBEAT: a sign of life, sent both ways (6/PPP only).
pub const HEARTBEAT: u8 = 0x02;

const DIALECT: &str = "Pirate";

/// Which of the two Pirate worker dialects a worker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PirateDialect {
    /// Simple Pirate: REQ socket, READY once, no heartbeats.
    Simple,
    /// Paranoid Pirate (6/PPP): DEALER socket, READY, heartbeats both ways.
    Paranoid,
}

/// A message from a Pirate worker to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromWorker {
    /// The worker is ready for a request.
    Ready,
    /// A corsair extension: READY followed by a frame with a decimal
    /// number, the requests the worker accepts at once (its credit).
    /// Unmodified Pirate workers never send it.
    ReadyWithCredit(u32),
    /// The worker is alive (Paranoid only).
    Heartbeat,
    /// The answer to a request, with the request's envelope echoed.
    Reply(Enveloped),
}

/// A message from the broker to a Pirate worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToWorker {
    /// A request: the envelope must be echoed in the reply.
    Request(Enveloped),
    /// The broker is alive (Paranoid only).
    Heartbeat,
}

fn command(frame: &Bytes) -> Result<u8, DecodeError> {
    match frame.as_ref() {
        [byte] => Ok(*byte),
        other => Err(DecodeError::BadCommandFrame {
            dialect: DIALECT,
            len: other.len(),
        }),
    }
}

fn reply(frames: Frames) -> Result<Enveloped, DecodeError> {
    let msg = Enveloped::decode(frames)?;
    if msg.envelope.is_empty() {
        return Err(DecodeError::MissingEnvelope { dialect: DIALECT });
    }
    Ok(msg)
}

impl FromWorker {
    /// Decodes what the broker's ROUTER received from a worker (identity
    /// frame removed). A leading empty frame marks a Simple Pirate (REQ)
    /// worker.
    pub fn decode(mut frames: Frames) -> Result<(PirateDialect, Self), DecodeError> {
        let first = frames.first().ok_or(DecodeError::Empty)?;
        let dialect = if first.is_empty() {
            frames.remove(0);
            PirateDialect::Simple
        } else {
            PirateDialect::Paranoid
        };
        Ok((dialect, Self::decode_bare(dialect, frames)?))
    }

    fn decode_bare(dialect: PirateDialect, frames: Frames) -> Result<Self, DecodeError> {
        match frames.as_slice() {
            [] => Err(DecodeError::Empty),
            [one] => match command(one)? {
                READY => Ok(FromWorker::Ready),
                HEARTBEAT if dialect == PirateDialect::Paranoid => Ok(FromWorker::Heartbeat),
                byte => Err(DecodeError::UnknownCommand {
                    dialect: DIALECT,
                    byte,
                }),
            },
            [ready, credit] if ready.as_ref() == [READY] => std::str::from_utf8(credit)
                .ok()
                .and_then(|c| c.parse().ok())
                .filter(|c| *c > 0)
                .map(FromWorker::ReadyWithCredit)
                .ok_or(DecodeError::MissingDelimiter),
            _ => Ok(FromWorker::Reply(reply(frames)?)),
        }
    }

    /// Encodes as a worker application sends it (a REQ socket adds the
    /// delimiter itself).
    pub fn encode(self) -> Frames {
        match self {
            FromWorker::Ready => vec![Bytes::from_static(&[READY])],
            FromWorker::ReadyWithCredit(n) => {
                vec![Bytes::from_static(&[READY]), Bytes::from(n.to_string())]
            }
            FromWorker::Heartbeat => vec![Bytes::from_static(&[HEARTBEAT])],
            FromWorker::Reply(msg) => msg.encode(),
        }
    }
}

impl ToWorker {
    /// Encodes for the broker's ROUTER to send (identity frame not
    /// included): Simple Pirate workers get the REQ delimiter in front.
    pub fn encode(self, dialect: PirateDialect) -> Frames {
        let bare = match self {
            ToWorker::Request(msg) => msg.encode(),
            ToWorker::Heartbeat => vec![Bytes::from_static(&[HEARTBEAT])],
        };
        match dialect {
            PirateDialect::Paranoid => bare,
            PirateDialect::Simple => {
                let mut frames = Vec::with_capacity(bare.len() + 1);
                frames.push(Bytes::new());
                frames.extend(bare);
                frames
            }
        }
    }

    /// Decodes what a worker application received (after its REQ socket,
    /// if any, stripped the delimiter).
    pub fn decode(frames: Frames) -> Result<Self, DecodeError> {
        match frames.as_slice() {
            [] => Err(DecodeError::Empty),
            [one] => match command(one)? {
                HEARTBEAT => Ok(ToWorker::Heartbeat),
                byte => Err(DecodeError::UnknownCommand {
                    dialect: DIALECT,
                    byte,
                }),
            },
            _ => Ok(ToWorker::Request(reply(frames)?)),
        }
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

    #[test]
    fn simple_worker_ready_and_reply() {
        let (d, m) = FromWorker::decode(vec![Bytes::new(), Bytes::from_static(&[READY])]).unwrap();
        assert_eq!((d, m), (PirateDialect::Simple, FromWorker::Ready));
        let frames = vec![Bytes::new(), b("req-1"), Bytes::new(), b("world")];
        let (d, m) = FromWorker::decode(frames).unwrap();
        assert_eq!(d, PirateDialect::Simple);
        assert_eq!(
            m,
            FromWorker::Reply(Enveloped {
                envelope: vec![b("req-1")],
                body: vec![b("world")]
            })
        );
    }

    #[test]
    fn paranoid_heartbeat_but_no_simple_heartbeat() {
        let hb = Bytes::from_static(&[HEARTBEAT]);
        assert_eq!(
            FromWorker::decode(vec![hb.clone()]).unwrap(),
            (PirateDialect::Paranoid, FromWorker::Heartbeat)
        );
        assert_eq!(
            FromWorker::decode(vec![Bytes::new(), hb]),
            Err(DecodeError::UnknownCommand {
                dialect: "Pirate",
                byte: HEARTBEAT
            })
        );
    }

    #[test]
    fn malformed_worker_messages_say_why() {
        assert_eq!(FromWorker::decode(vec![]), Err(DecodeError::Empty));
        assert_eq!(
            FromWorker::decode(vec![Bytes::new()]),
            Err(DecodeError::Empty)
        );
        assert_eq!(
            FromWorker::decode(vec![b("\x07")]),
            Err(DecodeError::UnknownCommand {
                dialect: "Pirate",
                byte: 7
            })
        );
        assert_eq!(
            FromWorker::decode(vec![b("READY")]),
            Err(DecodeError::BadCommandFrame {
                dialect: "Pirate",
                len: 5
            })
        );
        assert_eq!(
            FromWorker::decode(vec![b("x"), b("y")]),
            Err(DecodeError::MissingDelimiter)
        );
        assert_eq!(
            FromWorker::decode(vec![Bytes::new(), Bytes::new(), b("body")]),
            Err(DecodeError::MissingEnvelope { dialect: "Pirate" })
        );
    }

    #[test]
    fn simple_request_gets_req_delimiter() {
        let req = ToWorker::Request(Enveloped {
            envelope: vec![b("id")],
            body: vec![b("hi")],
        });
        assert_eq!(
            req.encode(PirateDialect::Simple),
            vec![Bytes::new(), b("id"), Bytes::new(), b("hi")]
        );
    }

    fn dialect() -> impl Strategy<Value = PirateDialect> {
        prop_oneof![Just(PirateDialect::Simple), Just(PirateDialect::Paranoid)]
    }

    fn enveloped() -> impl Strategy<Value = Enveloped> {
        (
            proptest::collection::vec(nonempty_frame(), 1..3),
            proptest::collection::vec(any_frame(), 1..4),
        )
            .prop_map(|(envelope, body)| Enveloped { envelope, body })
    }

    fn from_worker(d: PirateDialect) -> BoxedStrategy<FromWorker> {
        match d {
            PirateDialect::Simple => prop_oneof![
                Just(FromWorker::Ready),
                enveloped().prop_map(FromWorker::Reply)
            ]
            .boxed(),
            PirateDialect::Paranoid => prop_oneof![
                Just(FromWorker::Ready),
                (1u32..10_000).prop_map(FromWorker::ReadyWithCredit),
                Just(FromWorker::Heartbeat),
                enveloped().prop_map(FromWorker::Reply)
            ]
            .boxed(),
        }
    }

    proptest! {
        #[test]
        fn from_worker_round_trips((d, m) in dialect().prop_flat_map(|d| (Just(d), from_worker(d)))) {
            let mut frames = m.clone().encode();
            if d == PirateDialect::Simple {
                frames.insert(0, Bytes::new()); // what the REQ socket adds
            }
            prop_assert_eq!(FromWorker::decode(frames), Ok((d, m)));
        }

        #[test]
        fn to_worker_round_trips(
            d in dialect(),
            m in prop_oneof![Just(ToWorker::Heartbeat), enveloped().prop_map(ToWorker::Request)],
        ) {
            let mut frames = m.clone().encode(d);
            if d == PirateDialect::Simple {
                prop_assert!(frames.remove(0).is_empty()); // what the REQ socket strips
            }
            prop_assert_eq!(ToWorker::decode(frames), Ok(m));
        }

        #[test]
        fn decoders_never_panic(frames in proptest::collection::vec(any_frame(), 0..6)) {
            let _ = FromWorker::decode(frames.clone());
            let _ = ToWorker::decode(frames);
        }
    }
}
