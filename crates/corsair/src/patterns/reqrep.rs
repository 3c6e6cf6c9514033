//! REQ/REP: a server answers every `Hello` with `World`.

use std::time::{Duration, Instant};

use super::{bind, recv_until, text, PatternError};
use crate::Shutdown;

/// A REP socket answering `Hello` with `World`.
pub struct HelloServer {
    socket: zmq::Socket,
    endpoint: String,
}

impl HelloServer {
    /// Binds the server's REP socket.
    pub fn bind(ctx: &zmq::Context, endpoint: &str) -> Result<Self, PatternError> {
        let socket = ctx.socket(zmq::REP)?;
        socket.set_linger(0)?;
        let endpoint = bind(&socket, endpoint)?;
        Ok(HelloServer { socket, endpoint })
    }

    /// The endpoint as bound.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Answers requests until `stop` (or after `limit` of them); each
    /// request is passed to `seen` first. Returns how many were answered.
    pub fn run(
        &self,
        stop: &Shutdown,
        limit: Option<u64>,
        mut seen: impl FnMut(&str),
    ) -> Result<u64, PatternError> {
        let mut answered = 0;
        while limit.is_none_or(|l| answered < l) {
            let far = Instant::now() + Duration::from_secs(3600);
            let msg = match recv_until(&self.socket, far, stop) {
                Ok(msg) => msg,
                Err(PatternError::Shutdown) => break,
                Err(e) => return Err(e),
            };
            let request = text(&msg);
            seen(&request);
            let reply = if request == "Hello" { "World" } else { "?" };
            self.socket.send(reply, 0)?;
            answered += 1;
        }
        Ok(answered)
    }
}

/// Sends `count` `Hello` requests over REQ and returns the replies;
/// each must come within `timeout`.
pub fn hello_client(
    ctx: &zmq::Context,
    endpoint: &str,
    count: u32,
    timeout: Duration,
    stop: &Shutdown,
) -> Result<Vec<String>, PatternError> {
    let socket = ctx.socket(zmq::REQ)?;
    socket.set_linger(0)?;
    socket.connect(endpoint)?;
    let mut replies = Vec::new();
    for _ in 0..count {
        socket.send("Hello", 0)?;
        let msg = recv_until(&socket, Instant::now() + timeout, stop).map_err(|e| match e {
            PatternError::Timeout(_) => PatternError::Timeout(timeout),
            e => e,
        })?;
        replies.push(text(&msg));
    }
    Ok(replies)
}
