//! A server and four workers built on `corsair::daemon`, after the Python
//! daemon base class's own example.
//!
//!     cargo run --example my_zmq -- -c examples/my_zmq.ini
//!
//! The server sends a message every `period` (2 s): odd-numbered ones as
//! jobs on its PUSH channel `job` (each reaches exactly one worker),
//! even-numbered ones on its PUB channel `broadcast` (each reaches every
//! worker). After message `messages` (5) it broadcasts `EXIT` and ends;
//! the workers end on `EXIT`, and so does the whole run. The broadcast
//! channel waits for all the workers to subscribe before the server
//! begins, so no worker misses a broadcast.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use corsair::daemon::{texts, App, Channel, ConfigError, Daemon, Settings};

/// The server's state: messages sent so far, and when to say EXIT.
#[derive(Default)]
struct Server {
    sent: u32,
    exit_at: Option<Instant>,
}

fn server(s: &Settings) -> Result<Daemon<Server>, ConfigError> {
    let period = s
        .ini
        .duration_or("MyServer", "period", Duration::from_secs(2))?;
    let messages: u32 = s.ini.parse_or("MyServer", "messages", 5)?;
    // EXIT goes out a moment after the last message, so that the last job
    // is in its worker's queue before that worker hears EXIT.
    let grace = s
        .ini
        .duration_or("MyServer", "exit_delay", Duration::from_millis(200))?;
    Ok(Daemon::new("MyServer", Server::default())
        .channel(Channel::new("job", zmq::PUSH).bind("tcp://*:5557"))
        .channel(
            Channel::new("broadcast", zmq::PUB)
                .bind("tcp://*:5558")
                .wait_for_subscribers(s.workers),
        )
        .every("send", period, move |state, ctx| {
            if state.sent == messages {
                return Ok(());
            }
            state.sent += 1;
            let text = format!("This is message #{}", state.sent);
            if state.sent % 2 == 1 {
                ctx.log().info(format!("Sending job: {text}"));
                ctx.send_str("job", &text)?;
            } else {
                ctx.log().info(format!("Broadcasting: {text}"));
                ctx.send_str("broadcast", &text)?;
            }
            if state.sent == messages {
                state.exit_at = Some(Instant::now() + grace);
            }
            Ok(())
        })
        .every("exit", Duration::from_millis(50), |state, ctx| {
            if state.exit_at.is_some_and(|at| at <= Instant::now()) {
                ctx.log().info("Broadcasting: EXIT");
                ctx.send_str("broadcast", "EXIT")?;
                ctx.terminate();
            }
            Ok(())
        }))
}

/// `['a', 'b']`, as the Python original prints a message.
fn shown(msg: &[Vec<u8>]) -> String {
    let items: Vec<String> = texts(msg).iter().map(|t| format!("'{t}'")).collect();
    format!("[{}]", items.join(", "))
}

fn worker(_: &Settings) -> Result<Daemon<()>, ConfigError> {
    Ok(Daemon::new("MyWorker", ())
        .on(
            Channel::new("job", zmq::PULL).connect("tcp://localhost:5557"),
            |_, ctx, msg| {
                ctx.log().info(format!("Received job: {}", shown(&msg)));
                Ok(())
            },
        )
        .on(
            Channel::new("broadcast", zmq::SUB)
                .connect("tcp://localhost:5558")
                .subscribe(""),
            |_, ctx, msg| {
                ctx.log()
                    .info(format!("Received broadcast: {}", shown(&msg)));
                if texts(&msg) == ["EXIT"] {
                    ctx.terminate();
                }
                Ok(())
            },
        ))
}

fn main() -> ExitCode {
    App::new("my", 4).server(server).worker(worker).main()
}
