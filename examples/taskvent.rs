//! Task ventilator (PUSH/PULL pipeline), after the zguide's `taskvent`.
//!
//! Start the sink first, then any number of workers, then the ventilator
//! (workers may also start later):
//!
//!     cargo run --example tasksink
//!     cargo run --example taskwork        # as many as you like
//!     cargo run --example taskvent        # 100 tasks
//!
//! Arguments: TASKS_EP (bound, default tcp://*:5557), SINK_CONTROL_EP
//! (default tcp://localhost:5559), COUNT (default 100), MAX_COST_MS
//! (default 100). It announces the batch to the sink and waits until the
//! sink is ready before sending any task.

use std::time::Duration;

use corsair::patterns::pipeline::{batch, Ventilator};
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tasks_ep = args.next().unwrap_or_else(|| "tcp://*:5557".to_owned());
    let control = args
        .next()
        .unwrap_or_else(|| "tcp://localhost:5559".to_owned());
    let count = args.next().map(|c| c.parse()).transpose()?.unwrap_or(100);
    let max_cost = args.next().map(|c| c.parse()).transpose()?.unwrap_or(100);
    let ctx = zmq::Context::new();
    let ventilator = Ventilator::bind(&ctx, &tasks_ep)?;
    println!("taskvent: bound {}", ventilator.endpoint());
    let tasks = batch(count, max_cost);
    let total: u64 = tasks.iter().map(|t| t.cost_ms).sum();
    ventilator.run(
        &ctx,
        &control,
        &tasks,
        Duration::from_secs(30),
        &Shutdown::new(),
    )?;
    println!("Sent {count} tasks; total expected cost: {total} msec");
    Ok(())
}
