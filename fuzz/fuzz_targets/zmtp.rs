//! The ZMTP 3 decoders the native engine runs on every byte a peer
//! sends: no input makes them panic, a decoded frame never claims more
//! bytes than it was given, a message frame re-encodes to a frame that
//! decodes the same, and a stream cut anywhere decodes the same frames
//! as whole.
#![no_main]

use corsair_proto::zmtp::{self, Frame};
use libfuzzer_sys::fuzz_target;

/// Decodes frames from `data` while whole ones are there; the frames as
/// (command?, more, body) and the bytes used.
fn frames(data: &[u8], limit: Option<u64>) -> (Vec<(bool, bool, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Some((frame, used))) = zmtp::decode_frame(&data[pos..], limit) {
        assert!(used > 0 && pos + used <= data.len());
        pos += used;
        match frame {
            Frame::Message { more, body } => {
                let mut again = Vec::new();
                zmtp::encode_frame(&mut again, body, more);
                let (back, n) = zmtp::decode_frame(&again, None).unwrap().unwrap();
                assert_eq!(back, frame);
                assert_eq!(n, again.len());
                out.push((false, more, body.to_vec()));
            }
            Frame::Command(body) => {
                if let Ok((name, data)) = zmtp::parse_command(body) {
                    if name == b"READY" {
                        let _ = zmtp::parse_properties(data);
                        let _ = zmtp::parse_ready(frame, "ROUTER");
                    }
                    let mut pong = Vec::new();
                    zmtp::encode_pong_for(&mut pong, data);
                }
                out.push((true, false, body.to_vec()));
            }
        }
    }
    (out, pos)
}

fuzz_target!(|input: (u16, Vec<u8>)| {
    let (cut, data) = input;
    let _ = zmtp::parse_greeting(&data);
    let whole = frames(&data, Some(1 << 20));
    // Cut in two: the first part's frames, then the rest from where
    // they ended, are the whole's frames.
    let cut = usize::from(cut).min(data.len());
    let (mut first, used) = frames(&data[..cut], Some(1 << 20));
    let (rest, more) = frames(&data[used..], Some(1 << 20));
    first.extend(rest);
    assert_eq!(first, whole.0);
    assert_eq!(used + more, whole.1);
});
