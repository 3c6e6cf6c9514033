//! One broker-core cycle, shared by the criterion bench and the
//! `cycles` example (which runs it under a profiler or cachegrind).

use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::{Broker, BrokerConfig, Output};
use corsair_proto::lists;

/// A broker with `workers` idle Paranoid Pirate workers, its clock at
/// `t0`.
pub fn setup(workers: usize, t0: Instant) -> Broker {
    let mut broker = Broker::new(BrokerConfig::default(), t0);
    for w in 0..workers {
        let id = Bytes::from(format!("w{w:05}"));
        broker.handle_backend(t0, id, vec![Bytes::from_static(&[1])]);
    }
    broker
}

/// Cycle number `n` (from 1): a plain client request, its dispatch to the
/// least recently used idle worker, the worker's reply and the reply to
/// the client, whose frame count is returned. Messages come in spare
/// lists and outputs are given back once used, as the broker's engine
/// does ([`corsair_proto::lists`]); virtual time moves 1 us per cycle; every
/// 1,024 cycles the deadlines due are handled, as in a running broker.
pub fn cycle(broker: &mut Broker, t0: Instant, n: u64, client: &Bytes, body: &Bytes) -> usize {
    let now = t0 + Duration::from_micros(n);
    let mut request = lists::take();
    request.extend([Bytes::new(), body.clone()]);
    broker.handle_frontend(now, client.clone(), request);
    let out = broker.poll_output().expect("dispatched");
    let worker = out.frames[0].clone();
    let id = out.frames[1].clone();
    lists::give(out.frames);
    let mut reply = lists::take();
    reply.extend([id, Bytes::new(), body.clone()]);
    broker.handle_backend(now, worker, reply);
    let reply = broker.poll_output().expect("answered");
    let frames = reply.frames.len();
    lists::give(reply.frames);
    if n % 1024 == 0 {
        broker.handle_timeout(now);
        while let Some(Output { frames, .. }) = broker.poll_output() {
            lists::give(frames);
        }
    }
    frames
}
