//! One daemon: its channels, the handlers named after them, its timers,
//! and the loop that runs them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::channel::Channel;
use super::ini::{ConfigError, Ini};
use super::log::Logger;
use crate::Shutdown;

/// What a handler or timer returns; an error is logged with the
/// daemon's title and the daemon keeps running.
pub type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

type Handler<S> = Box<dyn FnMut(&mut S, &mut Ctx<'_>, Vec<Vec<u8>>) -> HandlerResult>;
type TimerFn<S> = Box<dyn FnMut(&mut S, &mut Ctx<'_>) -> HandlerResult>;

struct Timer<S> {
    name: String,
    period: Duration,
    f: TimerFn<S>,
}

/// What a running daemon needs from outside: sockets' context, the
/// configuration, its logger and its stop signal.
pub struct Env {
    /// The ZeroMQ context.
    pub ctx: zmq::Context,
    /// The configuration (empty without `-c`).
    pub ini: Ini,
    /// Titled log lines.
    pub logger: Logger,
    /// Set by SIGINT or SIGTERM.
    pub shutdown: Shutdown,
}

/// What handlers and timers can do: send on any channel by name, stop
/// the daemon, log with its title, read its settings.
pub struct Ctx<'a> {
    name: &'a str,
    sockets: &'a [(Channel, zmq::Socket)],
    env: &'a Env,
    terminate: bool,
}

impl Ctx<'_> {
    /// The daemon's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Sends a message (one frame per item) on `channel`.
    pub fn send<F: AsRef<[u8]>>(&self, channel: &str, frames: &[F]) -> HandlerResult {
        let (_, socket) = self
            .sockets
            .iter()
            .find(|(c, _)| c.name == channel)
            .ok_or_else(|| format!("no channel named `{channel}`"))?;
        let last = frames.len().saturating_sub(1);
        for (i, f) in frames.iter().enumerate() {
            let more = if i < last { zmq::SNDMORE } else { 0 };
            socket.send(f.as_ref(), more)?;
        }
        Ok(())
    }

    /// Sends one text frame on `channel`.
    pub fn send_str(&self, channel: &str, text: &str) -> HandlerResult {
        self.send(channel, &[text])
    }

    /// Ends the daemon once the current handler returns (messages already
    /// queued on its channels are handled first).
    pub fn terminate(&mut self) {
        self.terminate = true;
    }

    /// The daemon's logger.
    pub fn log(&self) -> &Logger {
        &self.env.logger
    }

    /// A setting from the daemon's own INI section.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.env.ini.get(self.name, key)
    }
}

/// A daemon under construction, then running: `S` is its own state,
/// handed to every handler and timer.
pub struct Daemon<S> {
    name: String,
    state: S,
    channels: Vec<Channel>,
    handlers: HashMap<String, Handler<S>>,
    timers: Vec<Timer<S>>,
}

impl<S> Daemon<S> {
    /// A daemon called `name` (its log lines and INI sections use it).
    pub fn new(name: &str, state: S) -> Self {
        Daemon {
            name: name.to_owned(),
            state,
            channels: Vec::new(),
            handlers: HashMap::new(),
            timers: Vec::new(),
        }
    }

    /// The daemon's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The channels declared so far.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Declares a channel whose messages (if it receives any) go to the
    /// handler named after it, or the one it names.
    pub fn channel(mut self, channel: Channel) -> Self {
        self.channels.push(channel);
        self
    }

    /// Declares a channel and, in the same place, the handler named after
    /// it.
    pub fn on(
        self,
        channel: Channel,
        handler: impl FnMut(&mut S, &mut Ctx<'_>, Vec<Vec<u8>>) -> HandlerResult + 'static,
    ) -> Self {
        let name = channel.name.clone();
        self.channel(channel).handler(&name, handler)
    }

    /// Registers handler `name` (for channels that name it).
    pub fn handler(
        mut self,
        name: &str,
        handler: impl FnMut(&mut S, &mut Ctx<'_>, Vec<Vec<u8>>) -> HandlerResult + 'static,
    ) -> Self {
        self.handlers.insert(name.to_owned(), Box::new(handler));
        self
    }

    /// Calls `f` every `period`, the first time one period after the
    /// daemon begins.
    pub fn every(
        mut self,
        name: &str,
        period: Duration,
        f: impl FnMut(&mut S, &mut Ctx<'_>) -> HandlerResult + 'static,
    ) -> Self {
        self.timers.push(Timer {
            name: name.to_owned(),
            period,
            f: Box::new(f),
        });
        self
    }

    /// Applies the INI file's channel overrides and checks that every
    /// receiving channel has its handler.
    pub fn configure(&mut self, ini: &Ini) -> Result<(), ConfigError> {
        for channel in &mut self.channels {
            channel.apply(&self.name, ini)?;
            let wanted = channel.handler_name();
            if !channel.kind.send_only() && !self.handlers.contains_key(wanted) {
                return Err(ConfigError::at(
                    &Channel::section(&self.name, &channel.name),
                    "handler",
                    format!("no handler named `{wanted}`"),
                ));
            }
        }
        Ok(())
    }

    /// Runs the loop until a handler terminates it or `env.shutdown` is
    /// set. Logs `<Name> has begun processing messages` and `<Name> is
    /// terminating`.
    pub fn run(mut self, env: &Env) -> Result<S, ConfigError> {
        self.configure(&env.ini)?;
        let log = &env.logger;
        let mut sockets = Vec::with_capacity(self.channels.len());
        for channel in std::mem::take(&mut self.channels) {
            let socket = channel.open(&env.ctx, &self.name)?;
            sockets.push((channel, socket));
        }
        if !self.await_subscribers(&sockets, env) {
            log.info(format!("{} is terminating", self.name));
            return Ok(self.state);
        }
        log.info(format!("{} has begun processing messages", self.name));
        let start = Instant::now();
        let mut next: Vec<Instant> = self.timers.iter().map(|t| start + t.period).collect();
        let mut terminate = false;
        while !terminate && !env.shutdown.is_triggered() {
            let now = Instant::now();
            let wake = next.iter().min().copied();
            let timeout = crate::shutdown::poll_ms(now, wake);
            let mut items: Vec<_> = sockets
                .iter()
                .map(|(c, s)| {
                    let events = if c.kind.send_only() && c.subscribers == 0 {
                        zmq::PollEvents::empty()
                    } else {
                        zmq::POLLIN
                    };
                    s.as_poll_item(events)
                })
                .collect();
            if let Err(e) = crate::frames::poll(&mut items, timeout) {
                log.error(format!("poll failed: {e}"));
                break;
            }
            let ready: Vec<usize> = (0..items.len())
                .filter(|&i| items[i].is_readable())
                .collect();
            drop(items);
            for i in ready {
                terminate |= self.drain(&sockets, i, env);
            }
            for (t, at) in next.iter_mut().enumerate() {
                if *at <= Instant::now() && !terminate {
                    *at += self.timers[t].period;
                    let mut ctx = Ctx {
                        name: &self.name,
                        sockets: &sockets,
                        env,
                        terminate: false,
                    };
                    if let Err(e) = (self.timers[t].f)(&mut self.state, &mut ctx) {
                        log.error(format!("timer `{}` failed: {e}", self.timers[t].name));
                    }
                    terminate |= ctx.terminate;
                }
            }
        }
        // Whatever had already arrived is handled before leaving.
        for i in 0..sockets.len() {
            self.drain(&sockets, i, env);
        }
        log.info(format!("{} is terminating", self.name));
        Ok(self.state)
    }

    /// Waits until every PUB channel that asks for it has its
    /// subscribers; false if stopped first.
    fn await_subscribers(&self, sockets: &[(Channel, zmq::Socket)], env: &Env) -> bool {
        for (channel, socket) in sockets.iter().filter(|(c, _)| c.subscribers > 0) {
            env.logger.debug(format!(
                "waiting for {} subscribers on `{}`",
                channel.subscribers, channel.name
            ));
            let mut seen = 0;
            while seen < channel.subscribers {
                if env.shutdown.is_triggered() {
                    return false;
                }
                if crate::frames::readable(socket, 50).unwrap_or(false) {
                    if let Ok(msg) = socket.recv_bytes(0) {
                        // XPUB: 1 + topic for a subscription, 0 + topic to cancel.
                        if msg.first() == Some(&1) {
                            seen += 1;
                        }
                    }
                }
            }
        }
        true
    }

    /// Handles what is queued on socket `i`; true if a handler asked to
    /// terminate.
    fn drain(&mut self, sockets: &[(Channel, zmq::Socket)], i: usize, env: &Env) -> bool {
        let (channel, socket) = &sockets[i];
        let mut terminate = false;
        if channel.kind.send_only() && channel.subscribers == 0 {
            return false; // nothing to read on a plain PUB or PUSH
        }
        for _ in 0..1000 {
            let msg = match socket.recv_multipart(zmq::DONTWAIT) {
                Ok(msg) => msg,
                Err(zmq::Error::EAGAIN) => break,
                Err(e) => {
                    env.logger
                        .error(format!("receive on `{}` failed: {e}", channel.name));
                    break;
                }
            };
            if channel.kind.send_only() {
                continue; // subscriptions arriving on a waiting PUB
            }
            let name = channel.handler_name();
            let Some(handler) = self.handlers.get_mut(name) else {
                continue; // checked by configure
            };
            let mut ctx = Ctx {
                name: &self.name,
                sockets,
                env,
                terminate: false,
            };
            if let Err(e) = handler(&mut self.state, &mut ctx, msg) {
                env.logger.error(format!(
                    "handler `{name}` for channel `{}` failed: {e}",
                    channel.name
                ));
            }
            terminate |= ctx.terminate;
        }
        terminate
    }
}
