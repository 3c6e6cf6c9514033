//! ZMTP 3.0 / 3.1 with the NULL mechanism (RFC 23, RFC 37): the greeting,
//! frames, and the READY, PING and PONG commands.
//!
//! Pure functions over byte slices, for the broker's native engine: no
//! sockets here. A decoder is handed whatever has arrived and answers
//! "not yet" (`Ok(None)`) until a whole unit is there; a frame longer
//! than the caller's limit is refused as soon as its header is read, so
//! its body is never buffered.

use thiserror::Error;

/// Length of a ZMTP 3 greeting.
pub const GREETING_LEN: usize = 64;

/// The largest ZMTP version byte this module speaks (3.1).
const MINOR: u8 = 1;

const MORE: u8 = 0x01;
const LONG: u8 = 0x02;
const COMMAND: u8 = 0x04;

/// What a peer sent that ZMTP (as spoken here) does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// The first bytes are not a ZMTP 3 greeting's signature.
    #[error("not a ZMTP peer (bad greeting signature)")]
    NotZmtp,
    /// A ZMTP 2.0 peer (libzmq 3.x and older): the version byte it sent.
    #[error("old ZMTP peer (version byte {0}: ZMTP 2.0, libzmq 3.x or older); the native engine speaks ZMTP 3.0 and later (use --engine libzmq)")]
    OldVersion(u8),
    /// A security mechanism other than NULL.
    #[error("security mechanism {0:?}: the native engine speaks NULL only")]
    Mechanism(String),
    /// A frame over the size limit.
    #[error("frame of {size} bytes over the limit of {limit}")]
    TooLarge {
        /// The size the frame header announced.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A message of more frames than the limit.
    #[error("message of more than {0} frames")]
    TooManyFrames(usize),
    /// A command frame whose body is not `name-size name data`, or whose
    /// properties run past its end.
    #[error("malformed command: {0}")]
    Command(&'static str),
    /// The handshake did not start with READY.
    #[error("expected READY, got {0:?}")]
    Handshake(String),
    /// The peer's socket type cannot talk to ours.
    #[error("a {peer} socket cannot talk to a {ours} socket")]
    SocketType {
        /// The peer's `Socket-Type`.
        peer: String,
        /// Ours.
        ours: &'static str,
    },
}

/// Our greeting: version 3.1, NULL mechanism.
pub fn greeting(as_server: bool) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = MINOR;
    g[12..16].copy_from_slice(b"NULL");
    g[32] = u8::from(as_server);
    g
}

/// The version a peer's greeting announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Major version (3).
    pub major: u8,
    /// Minor version (0 or 1; higher is spoken as 1).
    pub minor: u8,
}

/// Checks a peer's greeting: `Ok(None)` until all of it is here. A peer
/// that is not ZMTP 3 or not NULL is refused as soon as the byte that
/// says so arrives.
pub fn parse_greeting(buf: &[u8]) -> Result<Option<Version>, WireError> {
    if buf.first().is_some_and(|&b| b != 0xFF) {
        return Err(WireError::NotZmtp);
    }
    // ZMTP 1.0 peers put a length here, without the low bit of 0x7F.
    if buf.get(9).is_some_and(|&b| b & 1 == 0) {
        return Err(WireError::NotZmtp);
    }
    if let Some(&major) = buf.get(10) {
        if major < 3 {
            return Err(WireError::OldVersion(major));
        }
    }
    if buf.len() < GREETING_LEN {
        return Ok(None);
    }
    let mechanism = &buf[12..32];
    let end = mechanism.iter().position(|&b| b == 0).unwrap_or(20);
    if &mechanism[..end] != b"NULL" {
        return Err(WireError::Mechanism(
            String::from_utf8_lossy(&mechanism[..end]).into_owned(),
        ));
    }
    Ok(Some(Version {
        major: buf[10],
        minor: buf[11],
    }))
}

/// One decoded frame, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A message frame; `more` when another frame of the same message
    /// follows.
    Message {
        /// Another frame follows.
        more: bool,
        /// The frame's bytes.
        body: &'a [u8],
    },
    /// A command frame's body (`name-size name data`).
    Command(&'a [u8]),
}

/// Decodes the frame at the start of `buf`: the frame and the bytes it
/// took, `Ok(None)` if it has not all arrived. A frame longer than
/// `limit` is refused once its size is known.
pub fn decode_frame(
    buf: &[u8],
    limit: Option<u64>,
) -> Result<Option<(Frame<'_>, usize)>, WireError> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    let (size, header) = if flags & LONG != 0 {
        let Some(bytes) = buf.get(1..9) else {
            return Ok(None);
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(bytes);
        (u64::from_be_bytes(be), 9)
    } else {
        let Some(&b) = buf.get(1) else {
            return Ok(None);
        };
        (u64::from(b), 2)
    };
    if let Some(limit) = limit {
        if size > limit {
            return Err(WireError::TooLarge { size, limit });
        }
    }
    let available = (buf.len() - header) as u64;
    if size > available {
        return Ok(None);
    }
    let end = header + size as usize;
    let body = &buf[header..end];
    let frame = if flags & COMMAND != 0 {
        Frame::Command(body)
    } else {
        Frame::Message {
            more: flags & MORE != 0,
            body,
        }
    };
    Ok(Some((frame, end)))
}

fn header(out: &mut Vec<u8>, flags: u8, len: usize) {
    if len <= usize::from(u8::MAX) {
        out.push(flags);
        out.push(len as u8);
    } else {
        out.push(flags | LONG);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a message frame.
pub fn encode_frame(out: &mut Vec<u8>, body: &[u8], more: bool) {
    encode_frame_header(out, body.len(), more);
    out.extend_from_slice(body);
}

/// Appends the header of a message frame of `len` bytes, for a writer
/// that sends the body from where it already is.
pub fn encode_frame_header(out: &mut Vec<u8>, len: usize, more: bool) {
    header(out, if more { MORE } else { 0 }, len);
}

/// Appends a command frame named `name` carrying `data`.
pub fn encode_command(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    header(out, COMMAND, 1 + name.len() + data.len());
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
}

/// Appends a READY command that names our socket type.
pub fn encode_ready(out: &mut Vec<u8>, socket_type: &str) {
    let mut data = Vec::with_capacity(32);
    property(&mut data, "Socket-Type", socket_type.as_bytes());
    encode_command(out, "READY", &data);
}

fn property(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

/// Splits a command body into its name and data.
pub fn parse_command(body: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let (&len, rest) = body
        .split_first()
        .ok_or(WireError::Command("empty command"))?;
    let len = usize::from(len);
    if rest.len() < len {
        return Err(WireError::Command("name runs past the frame"));
    }
    Ok(rest.split_at(len))
}

/// A command property: its name and value.
pub type Property<'a> = (&'a [u8], &'a [u8]);

/// The properties of a READY command's data, in order.
pub fn parse_properties(mut data: &[u8]) -> Result<Vec<Property<'_>>, WireError> {
    let mut props = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len);
        if len == 0 || rest.len() < len + 4 {
            return Err(WireError::Command("property name runs past the command"));
        }
        let (name, rest) = rest.split_at(len);
        let (size, rest) = rest.split_at(4);
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        if rest.len() < size {
            return Err(WireError::Command("property value runs past the command"));
        }
        let (value, rest) = rest.split_at(size);
        props.push((name, value));
        data = rest;
    }
    Ok(props)
}

/// What a peer's READY said: its socket type and the routing identity it
/// asked for (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready<'a> {
    /// `Socket-Type`.
    pub socket_type: String,
    /// `Identity` (empty if absent).
    pub identity: &'a [u8],
}

/// Reads the peer's READY, which must be the first command after the
/// greeting, and checks that its socket type can talk to `ours`.
pub fn parse_ready<'a>(frame: Frame<'a>, ours: &'static str) -> Result<Ready<'a>, WireError> {
    let Frame::Command(body) = frame else {
        return Err(WireError::Handshake("a message frame".into()));
    };
    let (name, data) = parse_command(body)?;
    if name != b"READY" {
        return Err(WireError::Handshake(
            String::from_utf8_lossy(name).into_owned(),
        ));
    }
    let mut ready = Ready {
        socket_type: String::new(),
        identity: &[],
    };
    for (name, value) in parse_properties(data)? {
        if name.eq_ignore_ascii_case(b"Socket-Type") {
            ready.socket_type = String::from_utf8_lossy(value).into_owned();
        } else if name.eq_ignore_ascii_case(b"Identity") {
            ready.identity = value;
        }
    }
    if !compatible(ours, &ready.socket_type) {
        return Err(WireError::SocketType {
            peer: ready.socket_type,
            ours,
        });
    }
    Ok(ready)
}

/// Whether a `peer` socket may talk to one of type `ours` (RFC 23's
/// table, for the types the broker binds).
pub fn compatible(ours: &str, peer: &str) -> bool {
    match ours {
        "ROUTER" => matches!(peer, "REQ" | "DEALER" | "ROUTER"),
        "PULL" => peer == "PUSH",
        _ => false,
    }
}

/// For a PING command's data (TTL, then up to 16 bytes of context), the
/// PONG to send back (RFC 37): the same context.
pub fn encode_pong_for(out: &mut Vec<u8>, ping_data: &[u8]) {
    let context = ping_data.get(2..).unwrap_or(&[]);
    let context = &context[..context.len().min(16)];
    encode_command(out, "PONG", context);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_greeting_parses_as_zmtp_3_1_null() {
        let g = greeting(true);
        assert_eq!(parse_greeting(&g), Ok(Some(Version { major: 3, minor: 1 })));
        assert_eq!(parse_greeting(&g[..40]), Ok(None));
    }

    #[test]
    fn old_and_foreign_peers_are_refused_from_the_byte_that_tells() {
        assert_eq!(parse_greeting(b"GET / HTTP"), Err(WireError::NotZmtp));
        // ZMTP 1.0: a length-prefixed identity frame, no 0x7F.
        assert_eq!(
            parse_greeting(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Err(WireError::NotZmtp)
        );
        let mut g = greeting(false);
        g[10] = 1;
        assert_eq!(parse_greeting(&g[..11]), Err(WireError::OldVersion(1)));
        let mut g = greeting(false);
        g[12..17].copy_from_slice(b"CURVE");
        assert_eq!(
            parse_greeting(&g),
            Err(WireError::Mechanism("CURVE".into()))
        );
    }

    #[test]
    fn frames_round_trip_short_and_long_and_wait_for_their_bytes() {
        for len in [0usize, 1, 255, 256, 70_000] {
            let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            encode_frame(&mut out, &body, true);
            encode_frame(&mut out, b"end", false);
            let (f, used) = decode_frame(&out, None).unwrap().unwrap();
            assert_eq!(
                f,
                Frame::Message {
                    more: true,
                    body: &body
                }
            );
            let (f, rest) = decode_frame(&out[used..], None).unwrap().unwrap();
            assert_eq!(
                f,
                Frame::Message {
                    more: false,
                    body: b"end"
                }
            );
            assert_eq!(used + rest, out.len());
            for cut in [0, 1, used - 1] {
                assert_eq!(
                    decode_frame(&out[..cut], None),
                    Ok(None),
                    "len {len} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_on_its_header_alone() {
        let mut out = Vec::new();
        encode_frame(&mut out, &[0; 300], false);
        assert_eq!(
            decode_frame(&out[..9], Some(299)),
            Err(WireError::TooLarge {
                size: 300,
                limit: 299
            })
        );
        assert!(decode_frame(&out, Some(300)).unwrap().is_some());
    }

    #[test]
    fn ready_carries_socket_type_and_identity() {
        let mut out = Vec::new();
        let mut data = Vec::new();
        property(&mut data, "Socket-Type", b"DEALER");
        property(&mut data, "Identity", b"w1");
        property(&mut data, "X-Other", b"");
        encode_command(&mut out, "READY", &data);
        let (f, _) = decode_frame(&out, None).unwrap().unwrap();
        let ready = parse_ready(f, "ROUTER").unwrap();
        assert_eq!(ready.socket_type, "DEALER");
        assert_eq!(ready.identity, b"w1");
        assert!(matches!(
            parse_ready(f, "PULL"),
            Err(WireError::SocketType { .. })
        ));

        let mut ours = Vec::new();
        encode_ready(&mut ours, "ROUTER");
        let (f, _) = decode_frame(&ours, None).unwrap().unwrap();
        assert!(matches!(
            parse_ready(f, "ROUTER"),
            Ok(Ready { identity: [], .. })
        ));
    }

    #[test]
    fn malformed_commands_are_errors_not_panics() {
        assert!(parse_command(&[]).is_err());
        assert!(parse_command(&[9, b'R']).is_err());
        assert!(parse_properties(&[3, b'a']).is_err());
        assert!(parse_properties(&[1, b'a', 0, 0, 0, 9, 1]).is_err());
        assert!(matches!(
            parse_ready(Frame::Command(&[4, b'P', b'I', b'N', b'G']), "ROUTER"),
            Err(WireError::Handshake(_))
        ));
        assert!(parse_ready(
            Frame::Message {
                more: false,
                body: b""
            },
            "ROUTER"
        )
        .is_err());
    }

    #[test]
    fn pong_echoes_the_ping_context() {
        let mut ping = Vec::new();
        encode_command(&mut ping, "PING", &[0, 10, b'c', b't', b'x']);
        let (Frame::Command(body), _) = decode_frame(&ping, None).unwrap().unwrap() else {
            panic!("not a command");
        };
        let (name, data) = parse_command(body).unwrap();
        assert_eq!(name, b"PING");
        let mut pong = Vec::new();
        encode_pong_for(&mut pong, data);
        let (Frame::Command(body), _) = decode_frame(&pong, None).unwrap().unwrap() else {
            panic!("not a command");
        };
        assert_eq!(parse_command(body).unwrap(), (&b"PONG"[..], &b"ctx"[..]));
    }
}
