//! `corsair bench --memory N`: how much a `corsair broker` process grows
//! per queued request.
//!
//! It starts the broker (this executable) with no worker, a queue limit
//! above N and an hour's wait limit, reads its resident size, sends N
//! plain requests from one client and then an MMI query on the same
//! connection. The broker handles one connection's messages in order, so
//! when the MMI answer arrives every request before it is queued; the
//! resident size is read again then.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use corsair::zmq;

use crate::procs::BrokerProcess;

/// Resident set size of process `pid`, in bytes (Linux `/proc`).
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status (bench --memory needs Linux)")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS line")?;
    Ok(kb * 1024)
}

/// Runs the measurement and prints it.
pub fn run(queued: u64, size: usize, json: bool) -> anyhow::Result<()> {
    if queued == 0 {
        bail!("--memory needs at least one request");
    }
    let queue_limit = (queued + 1).to_string();
    let broker = BrokerProcess::start(&["--wait-limit", "1h", "--queue-limit", &queue_limit])?;
    let (pid, endpoint) = (broker.id(), broker.frontend.clone());
    thread::sleep(Duration::from_millis(300));
    let before = rss(pid)?;
    let ctx = zmq::Context::new();
    let client = ctx.socket(zmq::DEALER)?;
    client.set_linger(0)?;
    client.set_sndhwm(0)?;
    client.connect(&endpoint)?;
    let started = Instant::now();
    let payload = vec![b'x'; size];
    for _ in 0..queued {
        client.send("", zmq::SNDMORE)?;
        client.send(&payload[..], 0)?;
    }
    client.send_multipart(["", "MDPC01", "mmi.service", "default"], 0)?;
    let wait = Duration::from_secs(30) + Duration::from_micros(100 * queued);
    if client.poll(zmq::POLLIN, wait.as_millis() as i64)? == 0 {
        bail!("the broker did not answer the MMI query within {wait:?}");
    }
    let answer = client.recv_multipart(0)?;
    if answer.last().map(Vec::as_slice) != Some(b"404") {
        bail!("unexpected MMI answer {answer:?}: a worker is connected?");
    }
    let queued_in = started.elapsed();
    thread::sleep(Duration::from_millis(500));
    let after = rss(pid)?;
    let per_request = after.saturating_sub(before) as f64 / queued as f64;
    let beyond = per_request - size as f64;
    if json {
        println!(
            "{{\"queued\":{queued},\"size\":{size},\"rss_before_bytes\":{before},\"rss_after_bytes\":{after},\"bytes_per_request\":{per_request:.1},\"beyond_payload\":{beyond:.1},\"queue_seconds\":{:.2}}}",
            queued_in.as_secs_f64()
        );
    } else {
        println!(
            "corsair broker, {queued} queued {size} B requests (queued in {:.1} s): resident {:.1} MB -> {:.1} MB; {per_request:.0} B per request, {beyond:.0} B beyond the payload",
            queued_in.as_secs_f64(),
            before as f64 / 1e6,
            after as f64 / 1e6
        );
    }
    Ok(())
}
