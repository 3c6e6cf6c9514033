//! Hello World server (REQ/REP), after the zguide's `hwserver`.
//!
//! Run it, then `cargo run --example hwclient` in another terminal:
//!
//!     cargo run --example hwserver                      # binds tcp://*:5555
//!     cargo run --example hwserver -- tcp://127.0.0.1:0 3   # any port, stop after 3
//!
//! Every `Hello` gets `World`. Stops after COUNT requests when given,
//! otherwise runs until Ctrl-C.

use corsair::patterns::reqrep::HelloServer;
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://*:5555".to_owned());
    let count = args.next().map(|c| c.parse()).transpose()?;
    let ctx = zmq::Context::new();
    let server = HelloServer::bind(&ctx, &endpoint)?;
    println!("hwserver: bound {}", server.endpoint());
    let answered = server.run(&Shutdown::new(), count, |request| {
        println!("Received {request}");
    })?;
    println!("hwserver: answered {answered} requests");
    Ok(())
}
