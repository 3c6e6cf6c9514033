//! What the core allocates per request-reply cycle, counted by a global
//! allocator: the frames a message arrives in are the caller's, but what
//! the core does with them (decode, dispatch, reply) should allocate as
//! little as possible, since it runs once per message.

use std::alloc::System;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::{Broker, BrokerConfig, Output};
use corsair_proto::lists;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (and reallocations) so far, in every thread: this file
/// holds one test, so the others are idle.
fn count() -> usize {
    let stats = GLOBAL.stats();
    stats.allocations + stats.reallocations
}

/// Runs `cycles` cycles of a plain client with envelope `envelope` (its
/// request-matching frames) through a broker of 100 Paranoid Pirate
/// workers, as the broker's runtime drives it: each message arrives in a
/// list taken from the thread's spares and each output list is given
/// back once sent. Returns the allocations per cycle.
fn allocations_per_cycle(envelope: &[Bytes], cycles: u64) -> f64 {
    let t0 = Instant::now();
    let mut broker = Broker::new(BrokerConfig::default(), t0);
    for w in 0..100 {
        broker.handle_backend(
            t0,
            Bytes::from(format!("w{w}")),
            vec![Bytes::from_static(&[1])],
        );
    }
    let client = Bytes::from_static(b"client");
    let body = Bytes::from_static(&[b'x'; 64]);
    let mut before = 0;
    for n in 0..cycles + 1000 {
        if n == 1000 {
            before = count(); // warmed up: spare lists exist
        }
        let now = t0 + Duration::from_micros(n);
        let mut request = lists::take();
        request.extend(envelope.iter().cloned());
        request.extend([Bytes::new(), body.clone()]);
        broker.handle_frontend(now, client.clone(), request);
        let dispatch = broker.poll_output().expect("dispatched");
        let worker = dispatch.frames[0].clone();
        let mut reply = lists::take();
        reply.extend([dispatch.frames[1].clone(), Bytes::new(), body.clone()]);
        lists::give(dispatch.frames);
        broker.handle_backend(now, worker, reply);
        let Output { frames, .. } = broker.poll_output().expect("answered");
        assert_eq!(frames[0], client);
        assert_eq!(frames.last(), Some(&body));
        lists::give(frames);
    }
    (count() - before) as f64 / cycles as f64
}

#[test]
fn a_cycle_allocates_nothing_but_a_share_of_a_chunk_of_request_ids() {
    // A REQ client (no envelope) and a DEALER client matching replies by
    // a frame of its own (one envelope frame): every list is a spare
    // one, given back when its message has been handled or sent. What
    // is left is one 2 KiB chunk of request ids per 256 requests.
    for envelope in [&[][..], &[Bytes::from_static(b"tag")][..]] {
        let per_cycle = allocations_per_cycle(envelope, 20_000);
        assert!(
            per_cycle < 0.01,
            "{per_cycle} allocations a cycle, envelope {envelope:?}"
        );
    }
}
