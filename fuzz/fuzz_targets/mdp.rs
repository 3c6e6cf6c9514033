//! The Majordomo decoders (7/MDP and 18/MDP, worker and client, request
//! and reply direction): no input makes them panic.
#![no_main]

use bytes::Bytes;
use corsair_proto::mdp::{ClientMessage, WorkerCommand};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frames: Vec<Vec<u8>>| {
    let frames: Vec<Bytes> = frames.into_iter().map(Bytes::from).collect();
    let _ = WorkerCommand::decode(frames.clone());
    let _ = ClientMessage::decode(frames.clone(), false);
    let _ = ClientMessage::decode(frames, true);
});
