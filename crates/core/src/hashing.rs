//! The hasher of every table whose keys a peer chooses: worker and
//! client identities, service names.
//!
//! An unkeyed hash lets a peer pick keys that all land in one bucket, so
//! that each lookup walks all of them (hash flooding). Each table here
//! hashes with foldhash, as fast as the unkeyed Fx hash the core used
//! before on short keys, under seeds drawn from the operating system's
//! randomness through the standard library's SipHash keys: one shared
//! seed per process and one more per table. foldhash's own random state
//! seeds itself from addresses and the clock, which it does not claim
//! resists a determined peer; these seeds are not visible from the wire.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use foldhash::fast::{FoldHasher, SeedableRandomState};
use foldhash::SharedSeed;

/// 64 bits no peer can predict: a SipHash of a constant under the
/// standard library's random keys (from the OS on each thread's first
/// use, then stepped for every new state).
fn random_u64() -> u64 {
    std::hash::RandomState::new().hash_one(b"corsair")
}

static SHARED: LazyLock<SharedSeed> = LazyLock::new(|| SharedSeed::from_u64(random_u64()));

/// A keyed hasher builder: every table gets its own seed on top of the
/// process's shared one.
#[derive(Clone, Debug)]
pub struct Keyed(SeedableRandomState);

impl Default for Keyed {
    fn default() -> Self {
        Keyed(SeedableRandomState::with_seed(random_u64(), &SHARED))
    }
}

impl BuildHasher for Keyed {
    type Hasher = FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// A hash map under a [`Keyed`] hasher.
pub type HashMap<K, V> = std::collections::HashMap<K, V, Keyed>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_hashes_under_its_own_key() {
        let (a, b) = (Keyed::default(), Keyed::default());
        let key: &[u8] = b"\x00\x6b\x8b\x45\x67";
        assert_eq!(a.hash_one(key), a.hash_one(key));
        assert_ne!(a.hash_one(key), b.hash_one(key));
        // Not a fixed function of the key that a peer could compute: the
        // same key under 64 tables gives 64 different hashes.
        let mut seen: Vec<u64> = (0..64).map(|_| Keyed::default().hash_one(key)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 64);
    }
}
