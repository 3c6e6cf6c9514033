//! `corsair` processes started by this one (the memory measurement and
//! the chaos run): this same executable with other arguments.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

/// `corsair ARGS` with its output thrown away.
pub fn corsair(args: &[&str]) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the corsair executable")?;
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting corsair {}", args.join(" ")))
}

/// A `corsair broker` process on ephemeral loopback ports, killed when
/// dropped unless stopped first.
pub struct BrokerProcess {
    child: Child,
    /// The clients' endpoint.
    pub frontend: String,
    /// The workers' endpoint.
    pub backend: String,
}

impl BrokerProcess {
    /// Starts `corsair broker` with `extra` options and waits for the line
    /// naming its endpoints (its log is read, and dropped, to the end).
    pub fn start(extra: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the corsair executable")?;
        let mut child = Command::new(exe)
            .args(["broker", "--frontend", "tcp://127.0.0.1:*"])
            .args(["--backend", "tcp://127.0.0.1:*"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting corsair broker")?;
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut broker = BrokerProcess {
            child,
            frontend: String::new(),
            backend: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .context("the broker printed no endpoint")?;
            // "corsair broker: clients on EP, workers on EP"
            if let Some(rest) = line.split("clients on ").nth(1) {
                let (front, back) = rest.split_once(", workers on ").unwrap_or((rest, ""));
                broker.frontend = front.trim().to_owned();
                broker.backend = back.trim().to_owned();
                return Ok(broker);
            }
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for it to exit; true on exit code 0.
    pub fn stop(mut self) -> anyhow::Result<bool> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .context("signalling the broker")?;
        Ok(self.child.wait()?.success())
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
