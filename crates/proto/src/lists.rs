//! Frame lists reused on one thread, so that a steady flow of messages
//! allocates no list per message.
//!
//! A message travels in a list ([`Frames`]): the broker's engine fills
//! one per message received, the decoders split an envelope off into
//! another, the broker frames each output in a third. Whoever is done
//! with a list may [`give`] it back; whoever needs one [`take`]s it, and
//! gets a fresh empty list only when none is spare. Giving back is never
//! required: a list dropped instead is freed as usual.
//!
//! The spare lists are per thread (the broker runs on one), at most
//! [`KEPT`] of them, each with room for at most [`ROOM`] frames, so the
//! pool holds at most 512 KiB of list storage on a thread that gives
//! lists back; a thread that never gives any back holds none.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::Frames;

/// A thread's spare values of one kind (lists here, output buffers in
/// the engine), reused last in, first out: the one given back last is
/// the likeliest to be in the CPU's cache.
pub type Pool<T> = LocalKey<RefCell<Vec<T>>>;

/// The value given back to `pool` last on this thread, else a new one.
#[inline]
pub fn reuse<T: Default>(pool: &'static Pool<T>) -> T {
    pool.try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `value` in `pool` for [`reuse`] unless `most` are kept already;
/// then, or on a thread being torn down (its pool is gone), it is
/// dropped.
#[inline]
pub fn keep<T>(pool: &'static Pool<T>, value: T, most: usize) {
    let _ = pool.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < most {
            spare.push(value);
        }
    });
}

/// Spare lists kept per thread at most; more given back are freed.
pub const KEPT: usize = 1024;

/// Frames a spare list may have room for; a larger list given back is
/// freed, so that one big message does not pin its storage.
pub const ROOM: usize = 16;

thread_local! {
    static SPARE: RefCell<Vec<Frames>> = const { RefCell::new(Vec::new()) };
}

/// An empty list: a spare one if this thread has one, else a new one
/// (which allocates when the first frame is pushed).
#[inline]
pub fn take() -> Frames {
    reuse(&SPARE)
}

/// Gives `frames` back for reuse: its frames are dropped now and the
/// list joins this thread's spares, unless it has no storage, has room
/// for more than [`ROOM`] frames, or [`KEPT`] lists are spare already
/// (then it is freed).
#[inline]
pub fn give(mut frames: Frames) {
    let room = frames.capacity();
    if room == 0 || room > ROOM {
        return;
    }
    frames.clear();
    keep(&SPARE, frames, KEPT);
}

/// Lists spare on this thread now.
pub fn spare() -> usize {
    SPARE.try_with(|spare| spare.borrow().len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    // Each test runs on a thread of its own, so each starts with an
    // empty pool.

    #[test]
    fn a_list_given_back_is_the_next_one_taken_and_empty() {
        assert_eq!(spare(), 0);
        let mut frames = take();
        frames.extend([Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        let at = frames.as_ptr();
        give(frames);
        assert_eq!(spare(), 1);
        let again = take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at, "the same storage, reused");
        assert_eq!(spare(), 0);
        // With none spare, a new list.
        let fresh = take();
        assert_eq!(fresh.capacity(), 0);
    }

    #[test]
    fn lists_without_storage_or_with_too_much_are_not_kept() {
        give(Vec::new());
        give(Vec::with_capacity(ROOM + 1));
        assert_eq!(spare(), 0);
        give(Vec::with_capacity(ROOM));
        assert_eq!(spare(), 1);
    }

    #[test]
    fn no_more_than_kept_lists_are_spare() {
        for _ in 0..KEPT + 10 {
            give(Vec::with_capacity(2));
        }
        assert_eq!(spare(), KEPT);
    }

    #[test]
    fn each_thread_has_its_own_spares() {
        give(Vec::with_capacity(4));
        let other = std::thread::spawn(spare).join().unwrap();
        assert_eq!(other, 0);
        assert_eq!(spare(), 1);
    }
}
