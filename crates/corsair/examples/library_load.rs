//! corsair's own client and worker libraries under load: an
//! [`AsyncClient`] keeps `WINDOW` requests of `SIZE` bytes in flight
//! through an in-process broker to two Paranoid Pirate [`Worker`]s with
//! credit `WINDOW`, all on loopback TCP, for `SECONDS`; prints requests
//! per second. Made to count the system calls the libraries make per
//! request, which is steadier than wall time on a shared machine:
//!
//!     cargo build --release -p corsair --example library_load
//!     strace -f -c -e trace=sendto,recvfrom,writev \
//!         target/release/examples/library_load 4096 3 64
//!
//! `sendto` and `recvfrom` are libzmq's (the client's and the workers'
//! sockets), `writev` the broker's native engine.

use std::time::{Duration, Instant};

use corsair::{AsyncClient, Broker, Bytes, Event, Shutdown, Worker, WorkerOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut next = |default: u64| -> Result<u64, std::num::ParseIntError> {
        args.next().map_or(Ok(default), |a| a.parse())
    };
    let size = next(4096)? as usize;
    let seconds = next(3)?;
    let window = next(64)?.max(1) as usize;

    let ctx = zmq::Context::new();
    let stop = Shutdown::new();
    let any = "tcp://127.0.0.1:0";
    let mut broker = Broker::bind(&ctx, any, any, Default::default())?;
    let front = broker.frontend_endpoint().to_owned();
    let back = broker.backend_endpoint().to_owned();
    let mut threads = Vec::new();
    let s = stop.clone();
    threads.push(std::thread::spawn(move || {
        broker.run(&s).map(|_| ()).map_err(|e| e.to_string())
    }));
    for _ in 0..2 {
        let mut options = WorkerOptions::paranoid(&back);
        options.credit = window as u32;
        let (ctx, s) = (ctx.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            Worker::new(&ctx, options)
                .run(Some, &s)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
    }
    // Let both workers announce themselves before the load starts.
    std::thread::sleep(Duration::from_millis(300));

    let mut client = AsyncClient::connect(&ctx, &front, Duration::from_secs(10))?;
    let body = Bytes::from(vec![7u8; size]);
    let start = Instant::now();
    let mut answered = 0u64;
    while client.in_flight() < window {
        client.send(b"default", vec![body.clone()])?;
    }
    while start.elapsed() < Duration::from_secs(seconds) {
        match client.poll(Duration::from_secs(5))? {
            Some(Event::Reply { body: reply, .. })
                if reply.first().map(|f| f.len()) == Some(size) =>
            {
                answered += 1;
                client.send(b"default", vec![body.clone()])?;
            }
            Some(Event::Partial { .. }) => {}
            other => return Err(format!("unexpected: {other:?}").into()),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{size} B, window {window}: {answered} requests, {:.0} req/s",
        answered as f64 / elapsed
    );
    stop.trigger();
    for t in threads {
        t.join().map_err(|_| "a thread panicked")??;
    }
    Ok(())
}
