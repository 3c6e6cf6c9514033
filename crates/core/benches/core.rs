//! The pure broker core: request -> dispatch -> reply cycles with 1, 100
//! and 10,000 workers (`cargo bench -p corsair-core`). One cycle is a
//! plain client request, its dispatch to the least recently used idle
//! Paranoid Pirate worker, the worker's reply and the reply to the
//! client.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

mod common;

use std::time::Instant;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cycle");
    g.throughput(Throughput::Elements(1));
    for workers in [1usize, 100, 10_000] {
        g.bench_with_input(
            BenchmarkId::from_parameter(workers),
            &workers,
            |b, &workers| {
                let t0 = Instant::now();
                let mut broker = common::setup(workers, t0);
                let client = Bytes::from_static(b"client");
                let body = Bytes::from(vec![b'x'; 64]);
                let mut n: u64 = 0;
                b.iter(|| {
                    n += 1;
                    common::cycle(&mut broker, t0, n, &client, &body)
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
