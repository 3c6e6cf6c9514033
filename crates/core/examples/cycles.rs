//! Runs the core bench's cycle on its own, for profilers and cache
//! simulators that criterion's harness would drown out:
//!
//! ```text
//! cargo build --release -p corsair-core --example cycles
//! target/release/examples/cycles 10000 3000000     # workers, cycles
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/cycles 10000 300000
//! ```
//!
//! Prints the wall time per cycle (setup excluded).

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Instant;

use bytes::Bytes;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = |default: u64| {
        args.next()
            .map_or(Ok(default), |a| a.parse())
            .unwrap_or_else(|e| {
                eprintln!("usage: cycles [WORKERS] [CYCLES]: {e}");
                std::process::exit(2)
            })
    };
    let workers = number(10_000);
    let cycles = number(3_000_000).max(1);
    let t0 = Instant::now();
    let mut broker = common::setup(workers as usize, t0);
    let client = Bytes::from_static(b"client");
    let body = Bytes::from(vec![b'x'; 64]);
    let start = Instant::now();
    for n in 1..=cycles {
        std::hint::black_box(common::cycle(&mut broker, t0, n, &client, &body));
    }
    let ns = start.elapsed().as_nanos() as f64 / cycles as f64;
    println!("{workers} workers: {ns:.1} ns a cycle ({cycles} cycles)");
}
