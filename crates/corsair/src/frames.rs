//! Multipart messages as [`Frames`].

use bytes::Bytes;
use corsair_proto::arena::Arena;
use corsair_proto::{lists, Frames};

/// Bytes libzmq reads from and writes to one connection per system call
/// on corsair's sockets: the broker's, the clients' and the workers'
/// (stock libzmq: 8,192, so a 1 MiB message takes 128 system calls to
/// write, and replies that queue up behind each other go out in 8 KiB
/// pieces).
pub const IO_BATCH: i32 = 64 * 1024;

/// Sets a socket's I/O batches to [`IO_BATCH`]; call it before the
/// socket connects or binds.
pub fn set_io_batch(socket: &mut zmq::Socket) -> zmq::Result<()> {
    corsair_libzmq::set_batch_size(socket, IO_BATCH)
}

/// Receives one whole multipart message. An interrupting signal is
/// retried.
///
/// Each frame is copied into a `Bytes` of its own size. Keeping the
/// libzmq message instead (no copy) was measured to cost more: a message
/// the decoder cut out of its shared receive buffer pins that whole
/// buffer for as long as a request waits in the queue (1 million queued
/// 64-byte requests: 1.05 GB resident with zero-copy, 0.80 GB copied).
pub fn recv(socket: &zmq::Socket, flags: i32) -> zmq::Result<Frames> {
    let first = recv_first(socket, flags)?;
    let mut frames = Vec::with_capacity(if first.get_more() { 4 } else { 1 });
    let more = first.get_more();
    frames.push(to_bytes(&first));
    recv_rest(socket, more, &mut frames, to_bytes)?;
    Ok(frames)
}

/// Receives one message on a ROUTER socket: the sender's identity and
/// the frames after it (`None` for a message with no frame after the
/// identity, which libzmq does not deliver).
///
/// `known` is the last identity seen on this socket: a message from the
/// same peer shares that identity's buffer instead of copying it again,
/// so a burst of requests from one client keeps one copy of its name.
/// Frames are copied into `arena` (small ones share its chunks) and the
/// list is a spare one if the thread has one ([`corsair_proto::lists`]).
pub fn recv_routed(
    socket: &zmq::Socket,
    flags: i32,
    known: &mut Bytes,
    arena: &mut Arena,
) -> zmq::Result<Option<(Bytes, Frames)>> {
    let first = recv_first(socket, flags)?;
    if first[..] != known[..] {
        *known = Bytes::copy_from_slice(&first);
    }
    let identity = known.clone();
    let mut frames = lists::take();
    recv_rest(socket, first.get_more(), &mut frames, |data| {
        arena.copy(data)
    })?;
    Ok((!frames.is_empty()).then_some((identity, frames)))
}

fn recv_first(socket: &zmq::Socket, flags: i32) -> zmq::Result<zmq::Message> {
    loop {
        match socket.recv_msg(flags) {
            Ok(msg) => return Ok(msg),
            Err(zmq::Error::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The rest of a multipart message, already here once its first frame
/// is; `copy` turns each frame's bytes into a `Bytes`.
fn recv_rest(
    socket: &zmq::Socket,
    mut more: bool,
    frames: &mut Frames,
    mut copy: impl FnMut(&[u8]) -> Bytes,
) -> zmq::Result<()> {
    while more {
        let msg = socket.recv_msg(0)?;
        more = msg.get_more();
        frames.push(copy(&msg));
    }
    Ok(())
}

/// A frame's own copy of `data`.
fn to_bytes(data: &[u8]) -> Bytes {
    if data.is_empty() {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(data)
    }
}

/// Sends one multipart message. An interrupting signal is retried.
pub fn send(socket: &zmq::Socket, frames: &[Bytes], flags: i32) -> zmq::Result<()> {
    let last = frames.len().saturating_sub(1);
    for (i, f) in frames.iter().enumerate() {
        send_copy(socket, f, flags | more(i, last))?;
    }
    Ok(())
}

/// Frames at least this long are handed to libzmq without a copy.
pub const SHARED_MIN: usize = 1024;

/// [`send`], except that frames of [`SHARED_MIN`] bytes or more are not
/// copied: libzmq holds a reference to the `Bytes` until it has written
/// it (what the broker does with bodies, which it passes on unchanged).
pub fn send_shared(socket: &mut zmq::Socket, frames: &[Bytes], flags: i32) -> zmq::Result<()> {
    let last = frames.len().saturating_sub(1);
    for (i, f) in frames.iter().enumerate() {
        if f.len() >= SHARED_MIN {
            corsair_libzmq::send_shared(socket, f.clone(), flags | more(i, last))?;
        } else {
            send_copy(socket, f, flags | more(i, last))?;
        }
    }
    Ok(())
}

fn more(i: usize, last: usize) -> i32 {
    if i < last {
        zmq::SNDMORE
    } else {
        0
    }
}

fn send_copy(socket: &zmq::Socket, frame: &[u8], flags: i32) -> zmq::Result<()> {
    loop {
        match socket.send(frame, flags) {
            Err(zmq::Error::EINTR) => continue,
            other => return other,
        }
    }
}

/// `zmq::poll` that treats an interrupting signal as "nothing ready", so
/// loops get to look at their shutdown flag.
pub fn poll(items: &mut [zmq::PollItem<'_>], timeout_ms: i64) -> zmq::Result<i32> {
    match zmq::poll(items, timeout_ms) {
        Err(zmq::Error::EINTR) => Ok(0),
        other => other,
    }
}

/// Waits up to `timeout_ms` for `socket` to become readable; an
/// interrupting signal counts as "not readable".
pub fn readable(socket: &zmq::Socket, timeout_ms: i64) -> zmq::Result<bool> {
    match socket.poll(zmq::POLLIN, timeout_ms) {
        Ok(n) => Ok(n > 0),
        Err(zmq::Error::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}
