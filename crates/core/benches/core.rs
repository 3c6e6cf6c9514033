//! The pure broker core: request -> dispatch -> reply cycles with 1, 100
//! and 10,000 workers (`cargo bench -p corsair-core`). One cycle is a
//! plain client request, its dispatch to the least recently used idle
//! Paranoid Pirate worker, the worker's reply and the reply to the
//! client.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use corsair_core::{Broker, BrokerConfig};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn setup(workers: usize, t0: Instant) -> Broker {
    let mut broker = Broker::new(BrokerConfig::default(), t0);
    for w in 0..workers {
        let id = Bytes::from(format!("w{w:05}"));
        broker.handle_backend(t0, id, vec![Bytes::from_static(&[1])]);
    }
    broker
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cycle");
    g.throughput(Throughput::Elements(1));
    for workers in [1usize, 100, 10_000] {
        g.bench_with_input(
            BenchmarkId::from_parameter(workers),
            &workers,
            |b, &workers| {
                let t0 = Instant::now();
                let mut broker = setup(workers, t0);
                let client = Bytes::from_static(b"client");
                let body = Bytes::from(vec![b'x'; 64]);
                let mut n: u64 = 0;
                b.iter(|| {
                    n += 1;
                    // Virtual time moves 1 us per cycle, so deadlines fall due
                    // and are handled as in a running broker.
                    let now = t0 + Duration::from_micros(n);
                    broker.handle_frontend(now, client.clone(), vec![Bytes::new(), body.clone()]);
                    let out = broker.poll_output().expect("dispatched");
                    let worker = out.frames[0].clone();
                    let id = out.frames[1].clone();
                    broker.handle_backend(now, worker, vec![id, Bytes::new(), body.clone()]);
                    let reply = broker.poll_output().expect("answered");
                    if n % 1024 == 0 {
                        broker.handle_timeout(now);
                        while broker.poll_output().is_some() {}
                    }
                    reply
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
