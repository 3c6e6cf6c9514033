//! Multipart messages as [`Frames`].

use bytes::Bytes;
use corsair_proto::Frames;

/// Receives one whole multipart message, without copying its frames.
pub fn recv(socket: &zmq::Socket, flags: i32) -> zmq::Result<Frames> {
    Ok(socket
        .recv_multipart(flags)?
        .into_iter()
        .map(Bytes::from)
        .collect())
}

/// Sends one multipart message.
pub fn send(socket: &zmq::Socket, frames: &[Bytes], flags: i32) -> zmq::Result<()> {
    let last = frames.len().saturating_sub(1);
    for (i, f) in frames.iter().enumerate() {
        let more = if i < last { zmq::SNDMORE } else { 0 };
        socket.send(f.as_ref(), flags | more)?;
    }
    Ok(())
}

/// Splits off the ROUTER identity frame.
pub fn split_identity(mut frames: Frames) -> Option<(Bytes, Frames)> {
    if frames.is_empty() {
        return None;
    }
    let rest = frames.split_off(1);
    Some((frames.pop()?, rest))
}
