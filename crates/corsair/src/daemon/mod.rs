//! A framework for long-running daemons with several ZeroMQ sockets: the
//! Rust successor of a Python base class for such daemons, with the same
//! observable behaviour.
//!
//! - A daemon declares its **channels** ([`Channel`]): a name, a socket
//!   type (any libzmq type), an endpoint, bind or connect, subscriptions,
//!   a high-water mark. The INI file can override each of them in a
//!   section `[Daemon.channel]`.
//! - A message on a channel goes to the **handler named after the
//!   channel** (`job` → the `job` handler) unless the channel names
//!   another. [`Daemon::on`] declares a channel and its handler in one
//!   place. A handler that fails is logged with the daemon's title; the
//!   daemon keeps running.
//! - **Timers** ([`Daemon::every`]), sending on any channel by name and
//!   terminating from a handler ([`Ctx`]).
//! - A PUB channel can **wait for its subscribers**
//!   ([`Channel::wait_for_subscribers`]) before the daemon begins, so that
//!   no subscriber misses the first messages (the slow joiner).
//! - The **runner** ([`App`]): `-c FILE.ini`, `--title`, and a supervisor
//!   that starts one server and N worker processes titled
//!   `(app:server)`, `(app:worker:1)`…, forwards SIGINT and SIGTERM, and
//!   waits for all. Every log line carries the process title; each
//!   daemon logs `<Name> has begun processing messages` and
//!   `<Name> is terminating`.
//!
//! # Walkthrough: `examples/my_zmq.rs`
//!
//! The server pushes odd-numbered messages as jobs and broadcasts
//! even-numbered ones, every `period`, then broadcasts `EXIT` and ends:
//!
//! ```no_run
//! use std::time::Duration;
//! use corsair::daemon::{App, Channel, Daemon, Settings};
//!
//! fn server(s: &Settings) -> Result<Daemon<u32>, corsair::daemon::ConfigError> {
//!     let period = s.ini.duration_or("MyServer", "period", Duration::from_secs(2))?;
//!     Ok(Daemon::new("MyServer", 0)
//!         .channel(Channel::new("job", zmq::PUSH).bind("tcp://*:5557"))
//!         .channel(Channel::new("broadcast", zmq::PUB).bind("tcp://*:5558")
//!             .wait_for_subscribers(s.workers))
//!         .every("send", period, |n, ctx| {
//!             *n += 1;
//!             let text = format!("This is message #{n}");
//!             if *n % 2 == 1 {
//!                 ctx.log().info(format!("Sending job: {text}"));
//!                 ctx.send_str("job", &text)
//!             } else {
//!                 ctx.log().info(format!("Broadcasting: {text}"));
//!                 ctx.send_str("broadcast", &text)
//!             }
//!         }))
//! }
//!
//! // Workers: a handler per channel, named after it.
//! fn worker(_: &Settings) -> Result<Daemon<()>, corsair::daemon::ConfigError> {
//!     Ok(Daemon::new("MyWorker", ())
//!         .on(Channel::new("job", zmq::PULL).connect("tcp://localhost:5557"), |_, ctx, msg| {
//!             ctx.log().info(format!("Received job: {:?}", corsair::daemon::texts(&msg)));
//!             Ok(())
//!         })
//!         .on(Channel::new("broadcast", zmq::SUB).connect("tcp://localhost:5558").subscribe(""),
//!             |_, ctx, msg| {
//!                 let texts = corsair::daemon::texts(&msg);
//!                 ctx.log().info(format!("Received broadcast: {texts:?}"));
//!                 if texts == ["EXIT"] { ctx.terminate() }
//!                 Ok(())
//!             }))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     App::new("my", 4).server(server).worker(worker).main()
//! }
//! ```
//!
//! Run it with `cargo run --example my_zmq -- -c examples/my_zmq.ini`; the
//! INI file has sections `[app]` (`title`, `workers`), `[logging]`
//! (`level`: error, warn, info, debug; `format`: short, full), one per
//! daemon for its own settings (`[MyServer]`: `period`, `messages`) and
//! one per channel to override (`[MyWorker.job]`: `type`, `endpoint`,
//! `bind`, `subscribe`, `hwm`, `handler`, `subscribers`). A bad file
//! (malformed line, unknown section or key, unknown socket type, missing
//! endpoint) stops the program with one line naming the section and key,
//! exit code 2.

mod channel;
mod ini;
mod log;
mod runner;
mod runtime;

pub use channel::{Channel, SocketKind, CHANNEL_KEYS};
pub use ini::{ConfigError, Ini};
pub use log::{Format, Level, Logger};
pub use runner::{App, Runnable, Settings, APP, LOGGING};
pub use runtime::{Ctx, Daemon, Env, HandlerResult};

/// A message's frames as text (lossy UTF-8), for logging.
pub fn texts(msg: &[Vec<u8>]) -> Vec<String> {
    msg.iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}
