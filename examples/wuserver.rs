//! Weather update server (PUB/SUB), after the zguide's `wuserver`.
//!
//!     cargo run --example wuserver                  # binds tcp://*:5556
//!     cargo run --example wuclient                  # in another terminal
//!     cargo run --example wuserver -- tcp://127.0.0.1:0 100000   # stop after 100000
//!
//! Publishes `ZIP TEMPERATURE HUMIDITY SEQ` for zipcodes 10000-10009,
//! one every 100 microseconds, until Ctrl-C or COUNT updates.

use std::time::Duration;

use corsair::patterns::pubsub::WeatherServer;
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://*:5556".to_owned());
    let count = args.next().map(|c| c.parse()).transpose()?;
    let ctx = zmq::Context::new();
    let mut server = WeatherServer::bind(&ctx, &endpoint, 1000)?;
    println!("wuserver: bound {}", server.endpoint());
    let sent = server.run(&Shutdown::new(), count, Some(Duration::from_micros(100)))?;
    println!("wuserver: published {sent} updates");
    Ok(())
}
