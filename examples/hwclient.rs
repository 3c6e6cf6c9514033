//! Hello World client (REQ/REP), after the zguide's `hwclient`.
//!
//!     cargo run --example hwserver        # in one terminal
//!     cargo run --example hwclient        # in another: 10 x Hello -> World
//!     cargo run --example hwclient -- tcp://127.0.0.1:5555 3
//!
//! Exits with an error if a reply takes longer than 5 seconds.

use std::time::Duration;

use corsair::patterns::reqrep::hello_client;
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "tcp://localhost:5555".to_owned());
    let count = args.next().map(|c| c.parse()).transpose()?.unwrap_or(10);
    let ctx = zmq::Context::new();
    println!("Connecting to hello world server at {endpoint}");
    let replies = hello_client(
        &ctx,
        &endpoint,
        count,
        Duration::from_secs(5),
        &Shutdown::new(),
    )?;
    for (n, reply) in replies.iter().enumerate() {
        println!("Received {reply} {n}");
    }
    Ok(())
}
