//! The broker's entry decoder for every socket (`Inbound::decode` with
//! each bare-frame reading), the fetch workers' answers and envelopes: no
//! input makes them panic, and a decoded request's return path frames a
//! reply without panicking either.
#![no_main]

use bytes::Bytes;
use corsair_proto::dialect::decode_answer;
use corsair_proto::{Bare, Enveloped, Inbound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frames: Vec<Vec<u8>>| {
    let frames: Vec<Bytes> = frames.into_iter().map(Bytes::from).collect();
    for bare in [Bare::Client, Bare::Worker, Bare::Fetch] {
        if let Ok(Inbound::Request {
            path,
            service,
            body,
        }) = Inbound::decode(frames.clone(), bare)
        {
            let service = service.unwrap_or_default();
            let mut out = Vec::new();
            path.reply_to(&mut out, Bytes::from_static(b"id"), &service, body.clone(), true);
            path.failure_to(&mut out, Bytes::from_static(b"id"), &service, "reason");
        }
    }
    let _ = decode_answer(frames.clone());
    let _ = Enveloped::decode(frames);
});
