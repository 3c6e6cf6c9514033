//! PUSH/PULL: a ventilator hands out tasks, any number of workers do
//! them, a sink collects the results.
//!
//! The accounting is exact:
//! - the sink binds first and the ventilator waits for it: over a REQ/REP
//!   handshake it announces the batch (`TASKS TOTAL-COST`) and sends no
//!   task before the sink answers `ready`, so no result can arrive
//!   before the sink knows how many to expect;
//! - every task carries its id; the sink counts distinct ids, so a
//!   duplicate could not pass for a missing result;
//! - workers may start before or after the ventilator: PUSH holds tasks
//!   until a worker connects, and ZeroMQ reconnects a worker that came
//!   first;
//! - when it has every result, the sink publishes `KILL` and the workers
//!   exit.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::{bind, recv_until, text, PatternError};
use crate::Shutdown;

/// The three endpoints of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineEndpoints {
    /// Ventilator → workers (the ventilator's PUSH binds).
    pub tasks: String,
    /// Workers → sink (the sink's PULL binds).
    pub results: String,
    /// Ventilator ↔ sink handshake (the sink's REP binds).
    pub control: String,
    /// Sink → workers, `KILL` at the end (the sink's PUB binds).
    pub kill: String,
}

/// One task: an id and a cost (milliseconds of work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Unique in its batch, from 1.
    pub id: u64,
    /// Milliseconds of work.
    pub cost_ms: u64,
}

impl Task {
    fn encode(&self) -> String {
        format!("{} {}", self.id, self.cost_ms)
    }

    fn parse(text: &str) -> Option<Task> {
        let (id, cost) = text.split_once(' ')?;
        Some(Task {
            id: id.parse().ok()?,
            cost_ms: cost.parse().ok()?,
        })
    }
}

/// A batch of `count` tasks with costs from 1 to `max_cost_ms`, spread
/// evenly (so runs are repeatable).
pub fn batch(count: u64, max_cost_ms: u64) -> Vec<Task> {
    (1..=count)
        .map(|id| Task {
            id,
            cost_ms: 1 + (id * 7919) % max_cost_ms.max(1),
        })
        .collect()
}

/// The sink: binds results (PULL), control (REP) and kill (PUB).
pub struct Sink {
    results: zmq::Socket,
    control: zmq::Socket,
    kill: zmq::Socket,
    endpoints: (String, String, String),
}

/// What the sink counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkReport {
    /// Tasks the ventilator announced.
    pub expected: u64,
    /// Total cost the ventilator announced.
    pub expected_cost_ms: u64,
    /// Distinct task ids received.
    pub received: u64,
    /// Results for an id already received.
    pub duplicates: u64,
    /// Sum of the costs received.
    pub total_cost_ms: u64,
    /// From the ventilator's announcement to the last result.
    pub elapsed: Duration,
}

impl Sink {
    /// Binds the sink's three sockets.
    pub fn bind(
        ctx: &zmq::Context,
        results: &str,
        control: &str,
        kill: &str,
    ) -> Result<Self, PatternError> {
        let (r, c, k) = (
            ctx.socket(zmq::PULL)?,
            ctx.socket(zmq::REP)?,
            ctx.socket(zmq::PUB)?,
        );
        for s in [&r, &c] {
            s.set_linger(0)?;
        }
        k.set_linger(1000)?;
        let endpoints = (bind(&r, results)?, bind(&c, control)?, bind(&k, kill)?);
        Ok(Sink {
            results: r,
            control: c,
            kill: k,
            endpoints,
        })
    }

    /// Bound endpoints: results, control, kill.
    pub fn endpoints(&self) -> (&str, &str, &str) {
        (&self.endpoints.0, &self.endpoints.1, &self.endpoints.2)
    }

    /// Waits for the ventilator's announcement, then for every result;
    /// publishes `KILL` when done. Each result must come within
    /// `timeout` of the previous one.
    pub fn run(&self, timeout: Duration, stop: &Shutdown) -> Result<SinkReport, PatternError> {
        let far = Instant::now() + Duration::from_secs(24 * 3600);
        let batch = text(&recv_until(&self.control, far, stop)?);
        let (expected, expected_cost_ms) = batch
            .split_once(' ')
            .and_then(|(n, c)| Some((n.parse().ok()?, c.parse().ok()?)))
            .ok_or(PatternError::Unexpected(batch.clone()))?;
        self.control.send("ready", 0)?;
        let started = Instant::now();
        let mut seen = HashSet::new();
        let mut report = SinkReport {
            expected,
            expected_cost_ms,
            received: 0,
            duplicates: 0,
            total_cost_ms: 0,
            elapsed: Duration::ZERO,
        };
        while report.received < expected {
            let msg =
                recv_until(&self.results, Instant::now() + timeout, stop).map_err(|e| match e {
                    PatternError::Timeout(_) => PatternError::Timeout(timeout),
                    e => e,
                })?;
            let line = text(&msg);
            let task = Task::parse(&line).ok_or(PatternError::Unexpected(line))?;
            if seen.insert(task.id) {
                report.received += 1;
                report.total_cost_ms += task.cost_ms;
            } else {
                report.duplicates += 1;
            }
        }
        report.elapsed = started.elapsed();
        self.kill.send("KILL", 0)?;
        Ok(report)
    }
}

/// The ventilator's PUSH socket.
pub struct Ventilator {
    socket: zmq::Socket,
    endpoint: String,
}

impl Ventilator {
    /// Binds the tasks socket.
    pub fn bind(ctx: &zmq::Context, endpoint: &str) -> Result<Self, PatternError> {
        let socket = ctx.socket(zmq::PUSH)?;
        socket.set_linger(-1)?;
        let endpoint = bind(&socket, endpoint)?;
        Ok(Ventilator { socket, endpoint })
    }

    /// The endpoint as bound.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Announces `tasks` to the sink at `control`, waits (up to
    /// `timeout`) for it to be ready, then sends every task. A send waits
    /// while no worker is connected.
    pub fn run(
        &self,
        ctx: &zmq::Context,
        control: &str,
        tasks: &[Task],
        timeout: Duration,
        stop: &Shutdown,
    ) -> Result<(), PatternError> {
        let sink = ctx.socket(zmq::REQ)?;
        sink.set_linger(0)?;
        sink.connect(control)?;
        let total: u64 = tasks.iter().map(|t| t.cost_ms).sum();
        sink.send(format!("{} {total}", tasks.len()).as_bytes(), 0)?;
        let answer = recv_until(&sink, Instant::now() + timeout, stop)?;
        if text(&answer) != "ready" {
            return Err(PatternError::Unexpected(text(&answer)));
        }
        for task in tasks {
            // PUSH blocks while no worker is there; keep an eye on `stop`.
            loop {
                match self.socket.send(task.encode().as_bytes(), zmq::DONTWAIT) {
                    Ok(()) => break,
                    Err(zmq::Error::EAGAIN) if !stop.is_triggered() => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(zmq::Error::EAGAIN) => return Err(PatternError::Shutdown),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

/// A worker: pulls tasks, sleeps their cost, pushes results, until the
/// sink says `KILL` (or `stop`). Returns the tasks it did.
pub fn worker(
    ctx: &zmq::Context,
    endpoints: &PipelineEndpoints,
    stop: &Shutdown,
    mut on_task: impl FnMut(Task),
) -> Result<u64, PatternError> {
    let tasks = ctx.socket(zmq::PULL)?;
    let results = ctx.socket(zmq::PUSH)?;
    let kill = ctx.socket(zmq::SUB)?;
    tasks.set_linger(0)?;
    results.set_linger(1000)?;
    kill.set_linger(0)?;
    tasks.connect(&endpoints.tasks)?;
    results.connect(&endpoints.results)?;
    kill.set_subscribe(b"KILL")?;
    kill.connect(&endpoints.kill)?;
    let mut done = 0;
    while !stop.is_triggered() {
        let mut items = [
            tasks.as_poll_item(zmq::POLLIN),
            kill.as_poll_item(zmq::POLLIN),
        ];
        crate::frames::poll(&mut items, 50)?;
        if items[1].is_readable() {
            break;
        }
        if items[0].is_readable() {
            let line = text(&tasks.recv_multipart(0)?);
            let task = Task::parse(&line).ok_or(PatternError::Unexpected(line.clone()))?;
            on_task(task);
            std::thread::sleep(Duration::from_millis(task.cost_ms));
            results.send(line.as_bytes(), 0)?;
            done += 1;
        }
    }
    Ok(done)
}
