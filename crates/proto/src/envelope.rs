//! The `envelope… "" body…` shape.
//!
//! A plain Lazy Pirate client (REQ) sends `"" body…` through a ROUTER: an
//! empty envelope, the delimiter, then the body. Pirate workers receive
//! and answer `envelope… "" body…`, where the envelope is whatever the
//! broker put there (corsair puts one frame naming the request).

use bytes::Bytes;

use crate::{DecodeError, Frames};

/// A message split at its first empty frame.
///
/// Envelope frames are never empty (the first empty frame is the
/// delimiter); the body has at least one frame, which may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enveloped {
    /// Routing frames before the delimiter.
    pub envelope: Frames,
    /// Payload frames after the delimiter.
    pub body: Frames,
}

impl Enveloped {
    /// Splits `frames` at the first empty frame.
    pub fn decode(mut frames: Frames) -> Result<Self, DecodeError> {
        if frames.is_empty() {
            return Err(DecodeError::Empty);
        }
        let delimiter = frames
            .iter()
            .position(|f| f.is_empty())
            .ok_or(DecodeError::MissingDelimiter)?;
        if delimiter + 1 == frames.len() {
            return Err(DecodeError::MissingBody);
        }
        // The body keeps the message's list; only a non-empty envelope
        // needs one of its own (a spare one, if the thread has one). One
        // pass moves the body down.
        let mut envelope = if delimiter > 0 {
            crate::lists::take()
        } else {
            Frames::new()
        };
        let mut front = frames.drain(..=delimiter);
        envelope.extend(front.by_ref().take(delimiter));
        drop(front);
        Ok(Enveloped {
            envelope,
            body: frames,
        })
    }

    /// Joins envelope, an empty delimiter and body.
    pub fn encode(self) -> Frames {
        let mut frames = self.envelope;
        frames.reserve(1 + self.body.len());
        frames.push(Bytes::new());
        frames.extend(self.body);
        frames
    }

    /// The definite failure reply of the plain dialect: one empty body
    /// frame, as the classic task broker answers a task that used all
    /// its tries.
    pub fn failure(envelope: Frames) -> Self {
        Enveloped {
            envelope,
            body: vec![Bytes::new()],
        }
    }

    /// True when this is the plain dialect's failure reply.
    pub fn is_failure(&self) -> bool {
        self.body.len() == 1 && self.body[0].is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn req_client_request_has_empty_envelope() {
        let m = Enveloped::decode(vec![Bytes::new(), b("hello")]).unwrap();
        assert!(m.envelope.is_empty());
        assert_eq!(m.body, vec![b("hello")]);
    }

    #[test]
    fn errors_name_what_is_missing() {
        assert_eq!(Enveloped::decode(vec![]), Err(DecodeError::Empty));
        assert_eq!(
            Enveloped::decode(vec![b("a"), b("b")]),
            Err(DecodeError::MissingDelimiter)
        );
        assert_eq!(
            Enveloped::decode(vec![b("a"), Bytes::new()]),
            Err(DecodeError::MissingBody)
        );
    }

    #[test]
    fn failure_reply_is_one_empty_frame() {
        let f = Enveloped::failure(vec![b("id")]);
        assert!(f.is_failure());
        assert_eq!(f.encode(), vec![b("id"), Bytes::new(), Bytes::new()]);
    }

    pub(crate) fn nonempty_frame() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 1..16).prop_map(Bytes::from)
    }

    pub(crate) fn any_frame() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from)
    }

    proptest! {
        #[test]
        fn round_trip(
            envelope in proptest::collection::vec(nonempty_frame(), 0..4),
            body in proptest::collection::vec(any_frame(), 1..4),
        ) {
            let m = Enveloped { envelope, body };
            prop_assert_eq!(Enveloped::decode(m.clone().encode()), Ok(m));
        }

        #[test]
        fn decode_never_panics(frames in proptest::collection::vec(any_frame(), 0..6)) {
            let _ = Enveloped::decode(frames);
        }
    }
}
