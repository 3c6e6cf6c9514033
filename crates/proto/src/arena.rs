//! Small frames packed into shared chunks: one allocation serves dozens
//! of frames instead of one each.
//!
//! A frame copied into an [`Arena`] is a [`Bytes`] slice of the arena's
//! current chunk; cloning it is a reference count, never an allocation.
//! A chunk is freed when the last frame cut from it is dropped, so one
//! long-lived small frame keeps at most one chunk ([`CHUNK`] bytes)
//! alive. [`detach`] gives a frame an allocation of its own, for a
//! holder that keeps it for as long as the process runs (a service
//! name, say).

use bytes::{Bytes, BytesMut};

/// Bytes in one chunk.
pub const CHUNK: usize = 2048;

/// Frames of at least this many bytes get an allocation of their own:
/// packing them would save little and waste the chunk's tail.
pub const LARGE: usize = 256;

/// Where small frames are copied to.
#[derive(Debug, Default)]
pub struct Arena {
    /// What is left of the current chunk (empty, with spare capacity).
    chunk: BytesMut,
}

impl Arena {
    /// An arena; its first chunk is allocated by the first small frame.
    pub fn new() -> Self {
        Arena::default()
    }

    /// A frame holding a copy of `data`.
    pub fn copy(&mut self, data: &[u8]) -> Bytes {
        if data.is_empty() {
            return Bytes::new();
        }
        if data.len() >= LARGE {
            return Bytes::copy_from_slice(data);
        }
        if self.chunk.capacity() < data.len() {
            self.chunk = BytesMut::with_capacity(CHUNK);
        }
        self.chunk.extend_from_slice(data);
        self.chunk.split().freeze()
    }
}

/// Gives `frame` an allocation of its own when it is small and shares
/// one (a slice of an [`Arena`] chunk, say), so that keeping it keeps
/// nothing else alive. Other frames are left as they are.
pub fn detach(frame: &mut Bytes) {
    if !frame.is_empty() && frame.len() < LARGE && !frame.is_unique() {
        *frame = Bytes::copy_from_slice(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_share_a_chunk_and_keep_their_bytes() {
        let mut arena = Arena::new();
        let frames: Vec<Bytes> = (0..200u8).map(|i| arena.copy(&[i; 40])).collect();
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.as_ref(), &[i as u8; 40][..]);
        }
        // Every frame shares its chunk, with the others cut from it.
        let shared = frames.iter().filter(|f| !f.is_unique()).count();
        assert_eq!(shared, 200);
        // They lie side by side until a chunk is full; the next frame
        // starts a new chunk.
        let first = frames[0].as_ptr() as usize;
        let last_in_first_chunk = frames[CHUNK / 40 - 1].as_ptr() as usize;
        assert_eq!(last_in_first_chunk - first, (CHUNK / 40 - 1) * 40);
        assert_ne!(
            frames[CHUNK / 40].as_ptr() as usize,
            first + CHUNK / 40 * 40
        );
    }

    #[test]
    fn empty_and_large_frames_are_not_packed() {
        let mut arena = Arena::new();
        assert!(arena.copy(b"").is_empty());
        let large = arena.copy(&[7; LARGE]);
        assert_eq!(large.as_ref(), &[7; LARGE][..]);
        assert!(large.is_unique());
        assert_eq!(arena.chunk.capacity(), 0, "no chunk was allocated");
    }

    #[test]
    fn a_detached_frame_no_longer_shares() {
        let mut arena = Arena::new();
        let mut a = arena.copy(b"request");
        let b = arena.copy(b"other");
        assert!(!a.is_unique());
        let before = a.as_ptr();
        detach(&mut a);
        assert_eq!(a.as_ref(), b"request");
        assert!(a.is_unique());
        assert_ne!(a.as_ptr(), before);
        // A frame that owns its bytes keeps them.
        let mut own = Bytes::from(vec![1, 2, 3]);
        let at = own.as_ptr();
        detach(&mut own);
        assert_eq!(own.as_ptr(), at);
        drop(b);
    }
}
