//! The basic socket patterns of "ZeroMQ from scratch", as small reusable
//! pieces: the examples (`examples/hw*`, `wu*`, `task*`) and
//! `corsair pattern` are built from them.
//!
//! - [`reqrep`] — REQ/REP: hello → world.
//! - [`pubsub`] — PUB/SUB: weather updates, subscription filters, and
//!   the two ways a subscriber misses messages (joining late, and
//!   falling behind past the high-water mark).
//! - [`pipeline`] — PUSH/PULL: ventilator → workers → sink, with the sink
//!   counting every result exactly once.
//!
//! Every blocking call polls in short steps and looks at a [`Shutdown`]
//! (or a timeout), so nothing here can hang a caller.
//!
//! [`Shutdown`]: crate::Shutdown

use std::time::{Duration, Instant};

use thiserror::Error;

pub mod pipeline;
pub mod pubsub;
pub mod reqrep;

/// Why a pattern stopped early.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PatternError {
    /// A socket failed.
    #[error("socket error: {0}")]
    Socket(#[from] zmq::Error),
    /// Nothing arrived in time.
    #[error("nothing received within {0:?}")]
    Timeout(Duration),
    /// The shutdown signal came first.
    #[error("shut down")]
    Shutdown,
    /// A peer sent something this pattern does not understand.
    #[error("unexpected message: {0}")]
    Unexpected(String),
}

/// Binds `socket` at `endpoint` and returns the endpoint as bound (a
/// `:0` or `*` port resolved).
pub(crate) fn bind(socket: &zmq::Socket, endpoint: &str) -> Result<String, PatternError> {
    socket.bind(endpoint)?;
    Ok(socket
        .get_last_endpoint()?
        .unwrap_or_else(|_| endpoint.to_owned()))
}

/// Receives one message, waiting at most until `deadline` and giving up
/// if `stop` is set.
pub(crate) fn recv_until(
    socket: &zmq::Socket,
    deadline: Instant,
    stop: &crate::Shutdown,
) -> Result<Vec<Vec<u8>>, PatternError> {
    loop {
        if stop.is_triggered() {
            return Err(PatternError::Shutdown);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(PatternError::Timeout(Duration::ZERO));
        }
        let ms = crate::shutdown::poll_ms(now, Some(deadline));
        if crate::frames::readable(socket, ms)? {
            return Ok(socket.recv_multipart(0)?);
        }
    }
}

/// A message's first frame as text.
pub(crate) fn text(msg: &[Vec<u8>]) -> String {
    msg.first()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .unwrap_or_default()
}
