//! Task sink (PUSH/PULL pipeline), after the zguide's `tasksink2`.
//!
//!     cargo run --example tasksink
//!     cargo run --example tasksink -- RESULTS_EP CONTROL_EP KILL_EP
//!
//! Binds tcp://*:5558 (results), tcp://*:5559 (the ventilator's
//! handshake) and tcp://*:5560 (KILL to the workers). Waits for the
//! ventilator to announce its batch, counts every result exactly once,
//! reports the elapsed time, and tells the workers to stop.

use std::time::Duration;

use corsair::patterns::pipeline::Sink;
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut next = |default: &str| args.next().unwrap_or_else(|| default.to_owned());
    let (results, control, kill) = (
        next("tcp://*:5558"),
        next("tcp://*:5559"),
        next("tcp://*:5560"),
    );
    let ctx = zmq::Context::new();
    let sink = Sink::bind(&ctx, &results, &control, &kill)?;
    let (r, c, k) = sink.endpoints();
    println!("tasksink: results {r}, control {c}, kill {k}");
    let report = sink.run(Duration::from_secs(60), &Shutdown::new())?;
    println!(
        "received {} of {} tasks ({} duplicates), total cost {} of {} msec",
        report.received,
        report.expected,
        report.duplicates,
        report.total_cost_ms,
        report.expected_cost_ms
    );
    println!("Total elapsed time: {} msec", report.elapsed.as_millis());
    if report.received != report.expected || report.total_cost_ms != report.expected_cost_ms {
        return Err("the counts do not match".into());
    }
    Ok(())
}
