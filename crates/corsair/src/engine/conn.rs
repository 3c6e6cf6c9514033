//! One peer connection of the native engine: its handshake state, the
//! bytes of a frame not yet complete, the message being assembled and
//! what waits to be written.

use std::io;
use std::mem;

use bytes::Bytes;
use corsair_proto::arena::Arena;
use corsair_proto::zmtp::{self, Frame, WireError};
use corsair_proto::{lists, Frames};

use super::endpoint::Stream;
use super::out::Out;

/// Frames one message may have; more is refused as malformed (the
/// dialects corsair speaks use a handful).
pub(crate) const MAX_FRAMES: usize = 1024;

/// Where a connection is in ZMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting for the peer's greeting.
    Greeting,
    /// Waiting for the peer's READY.
    Handshake,
    /// Messages flow.
    Active,
}

/// What a read produced, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The peer's READY: the identity it asked for (empty: none).
    Ready(Bytes),
    /// A whole message.
    Message(Frames),
}

/// A connection.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    /// Index of the listener that accepted it.
    pub(crate) listener: usize,
    /// The peer's address, for logs.
    pub(crate) peer: String,
    pub(crate) state: State,
    /// Its routing identity, once READY.
    pub(crate) identity: Bytes,
    /// Distinguishes this connection from a later one in the same slot.
    pub(crate) serial: u64,
    /// The peer has closed its side (or the socket failed): read on to
    /// the end even after a short read.
    pub(crate) hung_up: bool,
    /// Received bytes of a frame not yet whole.
    pending: Vec<u8>,
    /// Frames of a message whose last frame has not arrived.
    partial: Frames,
    /// What waits to be written.
    out: Out,
}

impl Conn {
    pub(crate) fn new(
        stream: Stream,
        listener: usize,
        peer: String,
        serial: u64,
        socket_type: &str,
    ) -> Self {
        let mut out = Out::default();
        out.buf().extend_from_slice(&zmtp::greeting(true));
        zmtp::encode_ready(out.buf(), socket_type);
        Conn {
            stream,
            listener,
            peer,
            state: State::Greeting,
            identity: Bytes::new(),
            serial,
            hung_up: false,
            pending: Vec::new(),
            partial: Vec::new(),
            out,
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn unsent(&self) -> usize {
        self.out.unsent()
    }

    /// Queues a message (frames after the routing identity).
    pub(crate) fn queue(&mut self, frames: &[Bytes]) {
        self.out.queue(frames);
    }

    /// Writes what is queued until done or the socket is full
    /// (`Ok(false)`: more remains; the writable event will come).
    pub(crate) fn write_out(&mut self) -> io::Result<bool> {
        self.out.write_to(&mut self.stream)
    }

    /// Takes in `data` just read: what it completes goes to `events`,
    /// its frames copied into `arena`; PINGs are answered. The rest of
    /// an incomplete frame is kept.
    pub(crate) fn take_in(
        &mut self,
        data: &[u8],
        socket_type: &'static str,
        limit: Option<u64>,
        arena: &mut Arena,
        events: &mut Vec<Event>,
    ) -> Result<(), WireError> {
        if self.pending.is_empty() {
            let used = self.parse(data, socket_type, limit, arena, events)?;
            self.pending.extend_from_slice(&data[used..]);
        } else {
            let mut buf = mem::take(&mut self.pending);
            buf.extend_from_slice(data);
            let used = self.parse(&buf, socket_type, limit, arena, events)?;
            buf.drain(..used);
            self.pending = buf;
        }
        Ok(())
    }

    fn parse(
        &mut self,
        data: &[u8],
        socket_type: &'static str,
        limit: Option<u64>,
        arena: &mut Arena,
        events: &mut Vec<Event>,
    ) -> Result<usize, WireError> {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            if self.state == State::Greeting {
                if zmtp::parse_greeting(rest)?.is_none() {
                    return Ok(pos);
                }
                pos += zmtp::GREETING_LEN;
                self.state = State::Handshake;
                continue;
            }
            let Some((frame, used)) = zmtp::decode_frame(rest, limit)? else {
                return Ok(pos);
            };
            pos += used;
            match (self.state, frame) {
                (State::Handshake, frame) => {
                    let ready = zmtp::parse_ready(frame, socket_type)?;
                    events.push(Event::Ready(Bytes::copy_from_slice(ready.identity)));
                    self.state = State::Active;
                }
                (_, Frame::Message { more, body }) => {
                    if self.partial.len() == MAX_FRAMES {
                        return Err(WireError::TooManyFrames(MAX_FRAMES));
                    }
                    self.partial.push(arena.copy(body));
                    if !more {
                        let frames = mem::replace(&mut self.partial, lists::take());
                        events.push(Event::Message(frames));
                    }
                }
                (_, Frame::Command(body)) => {
                    let (name, data) = zmtp::parse_command(body)?;
                    if name == b"PING" {
                        zmtp::encode_pong_for(self.out.buf(), data);
                    } else if name == b"ERROR" {
                        return Err(WireError::Handshake("ERROR".into()));
                    }
                    // PONG and commands of other socket types: nothing to do.
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> (Conn, std::os::unix::net::UnixStream) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let stream = Stream::Ipc(mio::net::UnixStream::from_std(a));
        let c = Conn::new(stream, 0, "test".into(), 1, "ROUTER");
        (c, b)
    }

    fn hello(identity: &[u8]) -> Vec<u8> {
        let mut data = zmtp::greeting(false).to_vec();
        let mut props = Vec::new();
        props.push(11);
        props.extend_from_slice(b"Socket-Type");
        props.extend_from_slice(&6u32.to_be_bytes());
        props.extend_from_slice(b"DEALER");
        props.push(8);
        props.extend_from_slice(b"Identity");
        props.extend_from_slice(&(identity.len() as u32).to_be_bytes());
        props.extend_from_slice(identity);
        zmtp::encode_command(&mut data, "READY", &props);
        data
    }

    #[test]
    fn a_byte_at_a_time_gives_the_same_events_as_all_at_once() {
        let mut wire = hello(b"w1");
        zmtp::encode_frame(&mut wire, b"", true);
        zmtp::encode_frame(&mut wire, &[7; 300], false);
        let mut ping = Vec::new();
        zmtp::encode_command(&mut ping, "PING", &[0, 1, b'x']);
        wire.extend_from_slice(&ping);
        zmtp::encode_frame(&mut wire, b"last", false);

        let (mut whole, _p1) = conn();
        let mut all = Vec::new();
        whole
            .take_in(&wire, "ROUTER", None, &mut Arena::new(), &mut all)
            .unwrap();
        let (mut bytewise, _p2) = conn();
        let mut each = Vec::new();
        for b in &wire {
            bytewise
                .take_in(
                    std::slice::from_ref(b),
                    "ROUTER",
                    None,
                    &mut Arena::new(),
                    &mut each,
                )
                .unwrap();
        }
        assert_eq!(all, each);
        assert_eq!(
            all,
            vec![
                Event::Ready(Bytes::from_static(b"w1")),
                Event::Message(vec![Bytes::new(), Bytes::from(vec![7; 300])]),
                Event::Message(vec![Bytes::from_static(b"last")]),
            ]
        );
        // Greeting, READY, then the PONG.
        assert!(whole
            .out
            .buf()
            .ends_with(&[0x04, 6, 4, b'P', b'O', b'N', b'G', b'x']));
        assert_eq!(whole.state, State::Active);
    }

    #[test]
    fn writes_what_is_queued_and_the_peer_reads_it_back() {
        use std::io::Read;
        let (mut c, mut peer) = conn();
        c.queue(&[Bytes::new(), Bytes::from_static(b"hello")]);
        assert!(c.write_out().unwrap());
        assert_eq!(c.unsent(), 0);
        let mut got = vec![0; 200];
        let n = peer.read(&mut got).unwrap();
        let mut expect = zmtp::greeting(true).to_vec();
        zmtp::encode_ready(&mut expect, "ROUTER");
        zmtp::encode_frame(&mut expect, b"", true);
        zmtp::encode_frame(&mut expect, b"hello", false);
        assert_eq!(&got[..n], &expect[..]);
    }

    #[test]
    fn too_many_frames_and_messages_before_ready_are_refused() {
        let (mut c, _p) = conn();
        let mut wire = hello(b"");
        for _ in 0..=MAX_FRAMES {
            zmtp::encode_frame(&mut wire, b"x", true);
        }
        let mut events = Vec::new();
        assert_eq!(
            c.take_in(&wire, "ROUTER", None, &mut Arena::new(), &mut events),
            Err(WireError::TooManyFrames(MAX_FRAMES))
        );

        let (mut c, _p) = conn();
        let mut wire = zmtp::greeting(false).to_vec();
        zmtp::encode_frame(&mut wire, b"too soon", false);
        assert!(matches!(
            c.take_in(&wire, "ROUTER", None, &mut Arena::new(), &mut events),
            Err(WireError::Handshake(_))
        ));
    }
}
