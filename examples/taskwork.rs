//! Task worker (PUSH/PULL pipeline), after the zguide's `taskwork2`.
//!
//!     cargo run --example taskwork
//!     cargo run --example taskwork -- TASKS_EP RESULTS_EP KILL_EP
//!
//! Defaults: tcp://localhost:5557 (tasks), tcp://localhost:5558
//! (results), tcp://localhost:5560 (the sink's KILL broadcast). Pulls
//! tasks, "works" (sleeps) for their cost, pushes the result, and exits
//! when the sink says KILL.

use corsair::patterns::pipeline::{worker, PipelineEndpoints};
use corsair::Shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut next = |default: &str| args.next().unwrap_or_else(|| default.to_owned());
    let endpoints = PipelineEndpoints {
        tasks: next("tcp://localhost:5557"),
        results: next("tcp://localhost:5558"),
        kill: next("tcp://localhost:5560"),
        control: String::new(),
    };
    let ctx = zmq::Context::new();
    println!("taskwork: ready");
    let done = worker(&ctx, &endpoints, &Shutdown::new(), |task| {
        println!("task {} ({} msec)", task.id, task.cost_ms);
    })?;
    println!("taskwork: did {done} tasks");
    Ok(())
}
