//! What the core allocates per request-reply cycle, counted by a global
//! allocator: the frames a message arrives in are the caller's, but what
//! the core does with them (decode, dispatch, reply) should allocate as
//! little as possible, since it runs once per message.

use std::alloc::System;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::{Broker, BrokerConfig, Output};
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
/// workers; returns the core's allocations per cycle.
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
    let mut inside = 0;
    for n in 0..cycles + 1000 {
        if n == 1000 {
            inside = 0; // warmed up: spare lists exist
        }
        let now = t0 + Duration::from_micros(n);
        let mut request = envelope.to_vec();
        request.extend([Bytes::new(), body.clone()]);
        let before = count();
        broker.handle_frontend(now, client.clone(), request);
        let dispatch = broker.poll_output().expect("dispatched");
        inside += count() - before;
        let worker = dispatch.frames[0].clone();
        let reply = vec![dispatch.frames[1].clone(), Bytes::new(), body.clone()];
        let before = count();
        broker.recycle(dispatch.frames);
        broker.handle_backend(now, worker, reply);
        let Output { frames, .. } = broker.poll_output().expect("answered");
        inside += count() - before;
        assert_eq!(frames[0], client);
        assert_eq!(frames.last(), Some(&body));
        let before = count();
        broker.recycle(frames);
        inside += count() - before;
    }
    inside as f64 / cycles as f64
}

#[test]
fn a_cycle_allocates_only_the_reply_envelope() {
    // A REQ client: no envelope. The one allocation left is the list of
    // the worker's reply envelope (the request id); request ids are
    // packed many to a chunk and output lists are reused.
    let per_cycle = allocations_per_cycle(&[], 20_000);
    assert!(
        (1.0..1.01).contains(&per_cycle),
        "{per_cycle} allocations a cycle"
    );
    // A DEALER client matching replies by a frame of its own: its
    // envelope list is one more.
    let per_cycle = allocations_per_cycle(&[Bytes::from_static(b"tag")], 20_000);
    assert!(
        (2.0..2.01).contains(&per_cycle),
        "{per_cycle} allocations a cycle"
    );
}
