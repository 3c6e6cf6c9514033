//! Shared test infrastructure: the real `corsair` binary and pyzmq peers
//! as child processes, each test under a hard timeout.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Aborts the whole test process (after killing every child) if the test
/// is still running after `limit`. Disarmed when dropped.
pub struct TimeBomb(Arc<Mutex<bool>>);

pub fn time_bomb(name: &'static str, limit: Duration) -> TimeBomb {
    let armed = Arc::new(Mutex::new(true));
    let a = armed.clone();
    thread::spawn(move || {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            thread::sleep(Duration::from_millis(100));
            if !*a.lock().unwrap() {
                return;
            }
        }
        eprintln!("test {name} timed out after {limit:?}");
        kill_all_children();
        remove_all_scratch();
        std::process::exit(101);
    });
    TimeBomb(armed)
}

impl Drop for TimeBomb {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = false;
    }
}

/// A fresh, empty directory under the system's temp directory, named
/// by a tag and this process's id; removed with its contents when
/// dropped, whether the test passed or panicked, or by the time bomb
/// before it ends the process (which skips every `Drop`).
pub struct Scratch(PathBuf);

/// The `Scratch` directories alive in this process.
fn scratch_dirs() -> &'static Mutex<Vec<PathBuf>> {
    static DIRS: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    DIRS.get_or_init(Mutex::default)
}

fn remove_all_scratch() {
    for dir in scratch_dirs().lock().unwrap().iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("corsair-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        scratch_dirs().lock().unwrap().push(dir.clone());
        Scratch(dir)
    }

    /// The path of `name` inside the directory.
    pub fn join(&self, name: impl AsRef<std::path::Path>) -> PathBuf {
        self.0.join(name)
    }

    /// `ipc://` endpoint for a socket file called `name` in the directory.
    pub fn ipc(&self, name: &str) -> String {
        format!("ipc://{}", self.join(name).display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        scratch_dirs().lock().unwrap().retain(|d| *d != self.0);
    }
}

fn children() -> &'static Mutex<Vec<u32>> {
    static PIDS: OnceLock<Mutex<Vec<u32>>> = OnceLock::new();
    PIDS.get_or_init(Mutex::default)
}

fn kill_all_children() {
    for pid in children().lock().unwrap().iter() {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// A child process whose stdout and stderr lines are collected; killed
/// when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        children().lock().unwrap().push(child.id());
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Proc {
            name: name.to_owned(),
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: no line containing {needle:?} within {limit:?}; output so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits until `count` lines contain `needle`.
    pub fn wait_for_count(&mut self, needle: &str, count: usize, limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            let seen = self.seen.iter().filter(|l| l.contains(needle)).count();
            if seen >= count {
                return;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "{}: {seen} of {count} lines containing {needle:?} within {limit:?}; output so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to exit; returns its exit code and every
    /// line it printed.
    pub fn wait(mut self, limit: Duration) -> (Option<i32>, Vec<String>) {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < end,
                "{} did not exit within {limit:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(20));
        };
        // Output is complete once both pipes closed.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code(), std::mem::take(&mut self.seen))
    }

    /// Every line printed so far (without waiting).
    pub fn lines_so_far(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} {} failed", self.name);
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn corsair(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_corsair"));
    cmd.args(args);
    cmd
}

/// A running `corsair broker` on ephemeral loopback ports.
pub struct BrokerProc {
    pub proc: Proc,
    pub frontend: String,
    pub backend: String,
}

pub fn start_broker(extra: &[&str]) -> BrokerProc {
    let mut args = vec![
        "broker",
        "--frontend",
        "tcp://127.0.0.1:*",
        "--backend",
        "tcp://127.0.0.1:*",
    ];
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn("broker", corsair(&args));
    let line = proc.wait_for("clients on", Duration::from_secs(10));
    // "corsair broker: clients on EP, workers on EP"
    let after = line.split("clients on ").nth(1).unwrap();
    let (frontend, rest) = after.split_once(", workers on ").unwrap();
    BrokerProc {
        frontend: frontend.trim().to_owned(),
        backend: rest.trim().to_owned(),
        proc,
    }
}

/// A running `corsair broker --bind` (one socket for both roles) on an
/// ephemeral loopback port; `frontend` and `backend` are that endpoint.
pub fn start_broker_single(extra: &[&str]) -> BrokerProc {
    let mut args = vec!["broker", "--bind", "tcp://127.0.0.1:*"];
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn("broker --bind", corsair(&args));
    let line = proc.wait_for("clients and workers on", Duration::from_secs(10));
    let endpoint = line.split("workers on ").nth(1).unwrap().trim().to_owned();
    BrokerProc {
        frontend: endpoint.clone(),
        backend: endpoint,
        proc,
    }
}

/// A running classic-form broker: `corsair broker [FLAGS] CLIENTS WORKERS
/// ANSWERS` on ephemeral loopback ports.
pub struct ClassicBroker {
    pub proc: BrokerProc,
    pub clients: String,
    pub workers: String,
    pub answers: String,
    /// The Pirate workers' endpoint, when `--backend` was given.
    pub backend: Option<String>,
}

pub fn start_classic_broker(flags: &[&str]) -> ClassicBroker {
    let any = "tcp://127.0.0.1:*";
    let mut args = vec!["broker"];
    args.extend_from_slice(flags);
    args.extend([any, any, any]);
    let mut proc = Proc::spawn("classic broker", corsair(&args));
    let line = proc.wait_for("fetch workers on", Duration::from_secs(10));
    // "corsair broker: clients on EP[, workers on EP], fetch workers on EP, answers on EP"
    let field = |name: &str| {
        line.split(", ")
            .find_map(|part| part.split_once(name).map(|(_, ep)| ep.trim().to_owned()))
    };
    let clients = field("clients on ").expect("clients endpoint");
    ClassicBroker {
        workers: field("fetch workers on ").expect("workers endpoint"),
        answers: field("answers on ").expect("answers endpoint"),
        backend: line
            .split(", ")
            .find(|p| p.starts_with("workers on "))
            .map(|p| p["workers on ".len()..].trim().to_owned()),
        proc: BrokerProc {
            frontend: clients.clone(),
            backend: String::new(),
            proc,
        },
        clients,
    }
}

impl BrokerProc {
    /// Starts `corsair worker` with `extra` flags on this broker's
    /// backend and returns once the worker is ready and the broker has
    /// registered it.
    pub fn worker(&mut self, name: &str, extra: &[&str]) -> Proc {
        let limit = Duration::from_secs(60);
        let registered = "worker registered";
        // Counted first: wait_for would return at once on an earlier
        // worker's line.
        let before = self
            .proc
            .lines_so_far()
            .iter()
            .filter(|l| l.contains(registered))
            .count();
        let mut args = vec!["worker", "--connect", &self.backend];
        args.extend_from_slice(extra);
        let mut worker = Proc::spawn(name, corsair(&args));
        worker.wait_for("worker ready", limit);
        self.proc.wait_for_count(registered, before + 1, limit);
        worker
    }

    /// `corsair bench` against this broker: its clients on the frontend,
    /// any `--workers` it starts on the backend, then `extra` flags.
    pub fn bench(&self, extra: &[&str]) -> Command {
        let mut args = vec![
            "bench",
            "--connect",
            &self.frontend,
            "--backend",
            &self.backend,
        ];
        args.extend_from_slice(extra);
        corsair(&args)
    }

    /// SIGTERM, wait for a clean exit, return the final stats line.
    pub fn stop(self) -> String {
        self.proc.signal("TERM");
        let (code, lines) = self.proc.wait(Duration::from_secs(10));
        assert_eq!(
            code,
            Some(0),
            "broker exit code; output:\n{}",
            lines.join("\n")
        );
        lines
            .into_iter()
            .find(|l| l.contains("stopped;"))
            .expect("broker prints its final stats")
    }
}

/// Reads `name: N` out of a Debug-printed stats line.
pub fn stat(line: &str, name: &str) -> u64 {
    let key = format!("{name}: ");
    let at = line
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + key.len();
    line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where pyzmq is installed for the tests when the system has none.
fn pydeps() -> PathBuf {
    workspace_root().join("target/pydeps")
}

/// Connects a raw TCP stream to a `tcp://` endpoint.
pub fn raw(endpoint: &str) -> std::net::TcpStream {
    let addr = endpoint.strip_prefix("tcp://").unwrap();
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A ZMTP 3.0 greeting (NULL) and a READY naming `socket_type`, written
/// out from RFC 23 byte by byte.
pub fn zmtp3_hello(socket_type: &str) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    g.extend_from_slice(b"NULL");
    g.resize(64, 0);
    let mut ready = vec![5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    ready.extend_from_slice(socket_type.as_bytes());
    g.push(0x04);
    g.push(ready.len() as u8);
    g.extend_from_slice(&ready);
    g
}

/// One ZMTP message of short frames (under 256 bytes each), as a peer
/// writes it.
pub fn zmtp_message(frames: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let more = u8::from(i + 1 < frames.len());
        out.push(more);
        out.push(u8::try_from(f.len()).expect("a short frame"));
        out.extend_from_slice(f);
    }
    out
}

/// Reads one ZMTP message (or command: `(true, frames)`) from a raw
/// stream, short or long frames.
pub fn read_zmtp(s: &mut std::net::TcpStream) -> (bool, Vec<Vec<u8>>) {
    use std::io::Read;
    let mut frames = Vec::new();
    loop {
        let mut flags = [0u8; 1];
        s.read_exact(&mut flags).unwrap();
        let len = if flags[0] & 0x02 != 0 {
            let mut n = [0u8; 8];
            s.read_exact(&mut n).unwrap();
            u64::from_be_bytes(n) as usize
        } else {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).unwrap();
            usize::from(n[0])
        };
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        frames.push(body);
        if flags[0] & 0x04 != 0 || flags[0] & 0x01 == 0 {
            return (flags[0] & 0x04 != 0, frames);
        }
    }
}

/// A `python3` command that can `import zmq`, installing pyzmq with pip
/// into target/pydeps on first use if needed.
pub fn python(script: &str, args: &[&str]) -> Command {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let has = |pp: &PathBuf| {
            Command::new("python3")
                .args(["-c", "import zmq"])
                .env("PYTHONPATH", pp)
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !has(&pydeps()) {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--target"])
                .arg(pydeps())
                .arg("pyzmq")
                .status()
                .expect("python3 is needed for the interop tests");
            assert!(status.success(), "pip install pyzmq failed");
            assert!(has(&pydeps()), "pyzmq still not importable");
        }
    });
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(workspace_root().join("tests/peers").join(script))
        .args(args)
        .env("PYTHONPATH", pydeps());
    cmd
}
