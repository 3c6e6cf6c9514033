//! What waits to be written to one connection: frame headers and small
//! bodies copied into one buffer, large bodies kept where they are (a
//! reference to the received frame) and written from there with one
//! vectored write.
//!
//! A connection holds a buffer only while it has bytes to write. Once
//! all are written the buffer goes back to a small pool on the thread,
//! and the next connection with something to write takes the one given
//! back last. With 1,000 workers served in turn, the frames are then
//! encoded into a few buffers still in the cache, instead of into the
//! connection's own buffer, which the other 999 pushed out of it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::Bytes;
use corsair_proto::{lists, zmtp};

/// Bodies at least this long are written from where they are instead of
/// being copied into the buffer (below it, a copy costs less than the
/// bookkeeping).
const BY_REFERENCE: usize = 1024;

/// Slices one vectored write takes at most (Linux's IOV_MAX is 1024).
const MAX_SLICES: usize = 64;

/// Buffers bigger than this are freed once empty, not kept for reuse.
const KEEP: usize = 256 * 1024;

/// Emptied buffers kept per thread at most (so at most 16 MiB).
const SPARE: usize = 64;

thread_local! {
    static SPARE_BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer: the one given back last on this thread, else a new
/// one (which allocates when first written to).
fn take_buffer() -> Vec<u8> {
    lists::reuse(&SPARE_BUFFERS)
}

/// Keeps `buf` for the next [`take_buffer`] unless it has no storage, is
/// over [`KEEP`], or [`SPARE`] buffers are kept already.
fn give_buffer(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > KEEP {
        return;
    }
    buf.clear();
    lists::keep(&SPARE_BUFFERS, buf, SPARE);
}

/// The queue of one connection.
#[derive(Default)]
pub(crate) struct Out {
    /// Headers and small bodies, from `pos` on.
    buf: Vec<u8>,
    pos: usize,
    /// Large bodies, each with the offset in `buf` it goes before.
    bodies: VecDeque<(usize, Bytes)>,
    /// Bytes of the first body already written.
    body_pos: usize,
    /// Bytes of `bodies` not yet written.
    body_unsent: usize,
}

impl Out {
    /// Bytes queued and not yet written.
    pub(crate) fn unsent(&self) -> usize {
        self.buf.len() - self.pos + self.body_unsent
    }

    /// The buffer of small writes (greeting, commands), appended to in
    /// order with the frames.
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        if self.buf.capacity() == 0 {
            self.buf = take_buffer();
        }
        &mut self.buf
    }

    /// Queues a message's frames.
    pub(crate) fn queue(&mut self, frames: &[Bytes]) {
        self.buf(); // a pooled buffer, if this connection holds none
        let last = frames.len().saturating_sub(1);
        for (i, f) in frames.iter().enumerate() {
            if f.len() >= BY_REFERENCE {
                zmtp::encode_frame_header(&mut self.buf, f.len(), i < last);
                self.bodies.push_back((self.buf.len(), f.clone()));
                self.body_unsent += f.len();
            } else {
                zmtp::encode_frame(&mut self.buf, f, i < last);
            }
        }
    }

    /// Writes what is queued to `w` until done (`Ok(true)`) or `w` would
    /// block (`Ok(false)`).
    pub(crate) fn write_to(&mut self, w: &mut impl Write) -> io::Result<bool> {
        while self.unsent() > 0 {
            let n = if self.bodies.is_empty() {
                w.write(&self.buf[self.pos..])
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = self.slices(&mut slices);
                w.write_vectored(&slices[..count])
            };
            match n {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos = 0;
        give_buffer(std::mem::take(&mut self.buf));
        Ok(true)
    }

    /// Fills `slices` with the unsent bytes in order, as far as one write
    /// takes them; returns how many it filled.
    fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>; MAX_SLICES]) -> usize {
        let mut count = 0;
        let mut pos = self.pos;
        let mut skip = self.body_pos;
        for (at, body) in &self.bodies {
            if count + 2 > MAX_SLICES {
                return count;
            }
            if *at > pos {
                slices[count] = IoSlice::new(&self.buf[pos..*at]);
                count += 1;
                pos = *at;
            }
            slices[count] = IoSlice::new(&body[skip..]);
            count += 1;
            skip = 0;
        }
        if pos < self.buf.len() && count < MAX_SLICES {
            slices[count] = IoSlice::new(&self.buf[pos..]);
            count += 1;
        }
        count
    }

    /// Counts `n` more bytes written.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some((at, body)) = self.bodies.front() else {
                self.pos += n;
                return;
            };
            if self.pos < *at {
                let step = n.min(at - self.pos);
                self.pos += step;
                n -= step;
                continue;
            }
            let step = n.min(body.len() - self.body_pos);
            self.body_pos += step;
            self.body_unsent -= step;
            n -= step;
            if self.body_pos == body.len() {
                self.bodies.pop_front();
                self.body_pos = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most `max` bytes a write (and a vectored write only as
    /// far as `max`), so that every write stops somewhere new.
    struct Trickle {
        got: Vec<u8>,
        max: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.max);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.max - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
                if n == self.max {
                    break;
                }
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn large_bodies_go_out_in_place_and_in_order_however_the_writes_split() {
        let messages: Vec<Vec<Bytes>> = (0..90)
            .map(|i: usize| {
                vec![
                    Bytes::from(format!("id{i}")),
                    Bytes::new(),
                    Bytes::from(vec![i as u8; [10, 1024, 5000, 300][i % 4]]),
                ]
            })
            .collect();
        let mut expect = Vec::new();
        for m in &messages {
            for (i, f) in m.iter().enumerate() {
                zmtp::encode_frame(&mut expect, f, i + 1 < m.len());
            }
        }
        for max in [1, 7, 1023, 1024, 4096, 100_000, usize::MAX] {
            let mut out = Out::default();
            out.buf().extend_from_slice(b"greeting");
            let mut w = Trickle {
                got: Vec::new(),
                max,
            };
            for (i, m) in messages.iter().enumerate() {
                out.queue(m);
                if i % 3 == 0 {
                    // Part of it now, the rest with what follows.
                    w.max = (out.unsent() / 2).clamp(1, max);
                    let _ = out.write_to(&mut OnceThen(&mut w));
                    w.max = max;
                }
            }
            assert!(out.write_to(&mut w).unwrap());
            assert_eq!(out.unsent(), 0);
            assert_eq!(&w.got[..8], b"greeting", "max {max}");
            assert!(w.got[8..] == expect[..], "max {max}: bytes differ");
        }
    }

    #[test]
    fn an_emptied_buffer_serves_the_next_connection_that_writes() {
        // Tests run on threads of their own: the pool starts empty.
        let frames = [Bytes::from_static(b"id"), Bytes::from(vec![7u8; 100])];
        let mut first = Out::default();
        first.queue(&frames);
        let at = first.buf.as_ptr();
        let mut w = Trickle {
            got: Vec::new(),
            max: usize::MAX,
        };
        assert!(first.write_to(&mut w).unwrap());
        assert_eq!(
            first.buf.capacity(),
            0,
            "an idle connection holds no buffer"
        );
        let mut second = Out::default();
        second.queue(&frames);
        assert_eq!(second.buf.as_ptr(), at, "the buffer given back is reused");
        // One that could not write everything keeps its bytes.
        w.max = 10;
        assert!(!second.write_to(&mut OnceThen(&mut w)).unwrap());
        assert_eq!(second.unsent(), 106 - 10);
        w.max = usize::MAX;
        assert!(second.write_to(&mut w).unwrap());
        let mut one = Vec::new();
        zmtp::encode_frame(&mut one, &frames[0], true);
        zmtp::encode_frame(&mut one, &frames[1], false);
        assert_eq!(one.len(), 106);
        assert!(w.got == [one.clone(), one].concat(), "bytes differ");
    }

    /// Takes one write, then says it would block.
    struct OnceThen<'a>(&'a mut Trickle);

    impl Write for OnceThen<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.0.max == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.0.write_vectored(bufs)?;
            self.0.max = 0;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
