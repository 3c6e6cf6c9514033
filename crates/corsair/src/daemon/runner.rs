//! The runner: command line (`-c FILE.ini`, `--title`), configuration
//! checks, and the supervisor that starts one server and N workers as
//! processes, forwards SIGINT and SIGTERM to them and waits for all.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::ini::{ConfigError, Ini};
use super::log::{Format, Level, Logger};
use super::runtime::{Daemon, Env};
use crate::Shutdown;

/// The application section of the INI file.
pub const APP: &str = "app";
/// The logging section of the INI file.
pub const LOGGING: &str = "logging";

/// A daemon the runner can configure and run, whatever its state type.
pub trait Runnable {
    /// Its name.
    fn name(&self) -> &str;
    /// INI sections it reads: its own and one per channel.
    fn sections(&self) -> Vec<String>;
    /// Checks the configuration against it.
    fn configure(&mut self, ini: &Ini) -> Result<(), ConfigError>;
    /// Runs it to the end.
    fn run_boxed(self: Box<Self>, env: &Env) -> Result<(), ConfigError>;
}

impl<S> Runnable for Daemon<S> {
    fn name(&self) -> &str {
        Daemon::name(self)
    }

    fn sections(&self) -> Vec<String> {
        let mut s = vec![self.name().to_owned()];
        s.extend(
            self.channels()
                .iter()
                .map(|c| super::channel::Channel::section(self.name(), &c.name)),
        );
        s
    }

    fn configure(&mut self, ini: &Ini) -> Result<(), ConfigError> {
        Daemon::configure(self, ini)
    }

    fn run_boxed(self: Box<Self>, env: &Env) -> Result<(), ConfigError> {
        self.run(env).map(drop)
    }
}

/// Builds a daemon from the configuration and the number of workers.
pub type Builder = Box<dyn Fn(&Settings) -> Result<Box<dyn Runnable>, ConfigError>>;

/// What a daemon's builder can read: the whole INI file and the app's
/// settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The INI file (empty without `-c`).
    pub ini: Ini,
    /// The title prefix, e.g. `my`.
    pub title: String,
    /// How many worker processes run.
    pub workers: usize,
}

/// An application: one server daemon and N worker daemons.
pub struct App {
    title: String,
    workers: usize,
    server: Option<Builder>,
    worker: Option<Builder>,
}

/// Which process this is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Supervisor,
    Server,
    Worker(usize),
}

struct Args {
    config: Option<PathBuf>,
    title: Option<String>,
    role: Role,
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

impl App {
    /// An application titled `title` (its processes are `(title:server)`,
    /// `(title:worker:1)`...) with `workers` workers by default.
    pub fn new(title: &str, workers: usize) -> Self {
        App {
            title: title.to_owned(),
            workers,
            server: None,
            worker: None,
        }
    }

    /// The server daemon, built from the settings.
    pub fn server<S: 'static>(
        mut self,
        build: impl Fn(&Settings) -> Result<Daemon<S>, ConfigError> + 'static,
    ) -> Self {
        self.server = Some(Box::new(move |s| {
            Ok(Box::new(build(s)?) as Box<dyn Runnable>)
        }));
        self
    }

    /// The worker daemon, built from the settings (the same for each of
    /// the N workers).
    pub fn worker<S: 'static>(
        mut self,
        build: impl Fn(&Settings) -> Result<Daemon<S>, ConfigError> + 'static,
    ) -> Self {
        self.worker = Some(Box::new(move |s| {
            Ok(Box::new(build(s)?) as Box<dyn Runnable>)
        }));
        self
    }

    /// Runs with the process's own arguments: `[-c FILE.ini] [--title
    /// TITLE]`. Exit code 2 for a usage or configuration error (one line
    /// on standard error), 1 when a process failed, 0 otherwise.
    pub fn main(self) -> ExitCode {
        self.main_with(std::env::args().skip(1).collect())
    }

    fn parse_args(args: Vec<String>) -> Result<Args, String> {
        let mut parsed = Args {
            config: None,
            title: None,
            role: Role::Supervisor,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "-c" | "--config" => parsed.config = Some(PathBuf::from(value("-c")?)),
                "--title" => parsed.title = Some(value("--title")?),
                // Internal: how the supervisor starts its children.
                "--role" => {
                    let role = value("--role")?;
                    parsed.role = match role.split_once(':') {
                        None if role == "server" => Role::Server,
                        Some(("worker", n)) => {
                            Role::Worker(n.parse().map_err(|_| format!("bad role `{role}`"))?)
                        }
                        _ => return Err(format!("bad role `{role}`")),
                    };
                }
                "-h" | "--help" => {
                    return Err("usage: [-c FILE.ini] [--title TITLE]".to_owned());
                }
                other => {
                    return Err(format!(
                        "unexpected argument `{other}` (usage: [-c FILE.ini] [--title TITLE])"
                    ))
                }
            }
        }
        Ok(parsed)
    }

    /// [`App::main`] with explicit arguments.
    pub fn main_with(self, args: Vec<String>) -> ExitCode {
        let args = match Self::parse_args(args) {
            Ok(a) => a,
            Err(message) => return usage_error(&message),
        };
        let prepared = match self.prepare(&args) {
            Ok(p) => p,
            Err(e) => return usage_error(&e.to_string()),
        };
        let (settings, level, format, mut server, mut worker) = prepared;
        let width = format!("({}:worker:{})", settings.title, settings.workers).len();
        let title = match args.role {
            Role::Supervisor => settings.title.clone(),
            Role::Server => format!("{}:server", settings.title),
            Role::Worker(n) => format!("{}:worker:{n}", settings.title),
        };
        let logger = Logger::new(&title, width, level, format);
        let shutdown = Shutdown::new();
        let daemon = match args.role {
            Role::Supervisor => return supervise(&args, &settings, &logger),
            Role::Server => server.take(),
            Role::Worker(_) => worker.take(),
        };
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            if let Err(e) = signal_hook::flag::register(sig, shutdown.flag()) {
                logger.error(format!("cannot handle signal {sig}: {e}"));
                return ExitCode::FAILURE;
            }
        }
        let env = Env {
            ctx: zmq::Context::new(),
            ini: settings.ini.clone(),
            logger: logger.clone(),
            shutdown,
        };
        match daemon.map(|d| d.run_boxed(&env)) {
            Some(Ok(())) => ExitCode::SUCCESS,
            Some(Err(e)) => {
                logger.error(&e);
                ExitCode::from(2)
            }
            None => ExitCode::FAILURE,
        }
    }

    /// Reads and checks the whole configuration, building both daemons.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        args: &Args,
    ) -> Result<
        (
            Settings,
            Level,
            Format,
            Option<Box<dyn Runnable>>,
            Option<Box<dyn Runnable>>,
        ),
        ConfigError,
    > {
        let ini = match &args.config {
            None => Ini::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    section: None,
                    key: None,
                    message: format!("cannot read {}: {e}", path.display()),
                })?;
                Ini::parse(&text, &path.display().to_string())?
            }
        };
        for key in ini.keys(APP) {
            if !["title", "workers"].contains(&key) {
                return Err(ConfigError::at(
                    APP,
                    key,
                    "unknown key (app keys: title, workers)",
                ));
            }
        }
        for key in ini.keys(LOGGING) {
            if !["level", "format"].contains(&key) {
                return Err(ConfigError::at(
                    LOGGING,
                    key,
                    "unknown key (logging keys: level, format)",
                ));
            }
        }
        let level = match ini.get(LOGGING, "level") {
            None => Level::Info,
            Some(l) => l
                .parse()
                .map_err(|e| ConfigError::at(LOGGING, "level", e))?,
        };
        let format = match ini.get(LOGGING, "format") {
            None => Format::Short,
            Some(f) => f
                .parse()
                .map_err(|e| ConfigError::at(LOGGING, "format", e))?,
        };
        let workers = ini.parse_or(APP, "workers", self.workers)?;
        let title = args
            .title
            .clone()
            .or_else(|| ini.get(APP, "title").map(str::to_owned))
            .unwrap_or_else(|| self.title.clone());
        let settings = Settings {
            ini,
            title,
            workers,
        };
        let mut known: BTreeSet<String> = [APP, LOGGING].map(str::to_owned).into();
        let mut built = Vec::new();
        for builder in [&self.server, &self.worker] {
            let daemon = match builder {
                None => None,
                Some(b) => {
                    let mut d = b(&settings)?;
                    d.configure(&settings.ini)?;
                    known.extend(d.sections());
                    Some(d)
                }
            };
            built.push(daemon);
        }
        if let Some(unknown) = settings.ini.sections().find(|s| !known.contains(*s)) {
            let list: Vec<_> = known.iter().map(String::as_str).collect();
            return Err(ConfigError::section(
                unknown,
                format!("unknown section (known: {})", list.join(", ")),
            ));
        }
        let worker = built.pop().flatten();
        let server = built.pop().flatten();
        Ok((settings, level, format, server, worker))
    }
}

/// Starts the server and the workers, forwards SIGINT and SIGTERM, waits
/// for every one.
fn supervise(args: &Args, settings: &Settings, log: &Logger) -> ExitCode {
    let interrupt = Arc::new(AtomicBool::new(false));
    let terminate = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (signal_hook::consts::SIGINT, &interrupt),
        (signal_hook::consts::SIGTERM, &terminate),
    ] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(flag)) {
            log.error(format!("cannot handle signal {sig}: {e}"));
            return ExitCode::FAILURE;
        }
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            log.error(format!("cannot find my own executable: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let roles = std::iter::once("server".to_owned())
        .chain((1..=settings.workers).map(|n| format!("worker:{n}")));
    let mut children: Vec<(String, Child)> = Vec::new();
    for role in roles {
        let mut cmd = Command::new(&exe);
        if let Some(c) = &args.config {
            cmd.arg("-c").arg(c);
        }
        cmd.args(["--title", &settings.title, "--role", &role])
            .stdin(Stdio::null());
        match cmd.spawn() {
            Ok(child) => children.push((role, child)),
            Err(e) => {
                log.error(format!("cannot start {role}: {e}"));
                forward(&mut children, nix::sys::signal::Signal::SIGTERM, log);
                break;
            }
        }
    }
    log.debug(format!("started {} processes", children.len()));
    let mut failed = children.len() < settings.workers + 1;
    let mut running: Vec<(String, Child)> = children;
    while !running.is_empty() {
        for (flag, sig) in [
            (&interrupt, nix::sys::signal::Signal::SIGINT),
            (&terminate, nix::sys::signal::Signal::SIGTERM),
        ] {
            if flag.swap(false, Ordering::SeqCst) {
                forward(&mut running, sig, log);
            }
        }
        running.retain_mut(|(role, child)| match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                if !status.success() {
                    failed = true;
                    log.error(format!("{role} exited with {status}"));
                }
                false
            }
            Err(e) => {
                failed = true;
                log.error(format!("cannot wait for {role}: {e}"));
                false
            }
        });
        std::thread::sleep(Duration::from_millis(20));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn forward(children: &mut [(String, Child)], sig: nix::sys::signal::Signal, log: &Logger) {
    for (role, child) in children {
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        if let Err(e) = nix::sys::signal::kill(pid, sig) {
            log.warn(format!("cannot signal {role}: {e}"));
        }
    }
}
