//! Weather update client (PUB/SUB), after the zguide's `wuclient`.
//!
//!     cargo run --example wuserver        # in one terminal
//!     cargo run --example wuclient        # zipcode 10001, 20 updates
//!     cargo run --example wuclient -- tcp://localhost:5556 10003 50
//!
//! Subscribes to one zipcode (a prefix filter on the update text) and
//! averages the temperature of the updates it receives.

use std::time::Duration;

use corsair::patterns::pubsub::weather_client;
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "tcp://localhost:5556".to_owned());
    let zipcode = args.next().map(|z| z.parse()).transpose()?.unwrap_or(10001);
    let count = args.next().map(|c| c.parse()).transpose()?.unwrap_or(20);
    let ctx = zmq::Context::new();
    println!("Collecting updates from weather server at {endpoint}");
    let report = weather_client(
        &ctx,
        &endpoint,
        zipcode,
        count,
        Duration::from_secs(10),
        &Shutdown::new(),
    )?;
    println!(
        "Average temperature for zipcode '{zipcode}' was {:.1}F over {} updates (zipcodes seen: {:?})",
        report.average_temperature, report.updates, report.zipcodes
    );
    Ok(())
}
