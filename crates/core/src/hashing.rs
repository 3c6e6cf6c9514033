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

use std::hash::{BuildHasher, Hash};
use std::sync::LazyLock;

use hashbrown::HashTable;

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

/// Slot numbers of a table kept elsewhere (a slab), hashed by a key that
/// each slot's own record holds: 5 bytes a slot with its control byte,
/// where a map keeping its own copy of the key takes 40 or more, so that
/// with thousands of slots the index stays in the CPU's cache and a
/// lookup's only other touch is the record it finds, which the caller
/// wants anyway. Every method takes `key_at`, which gives the key of an
/// indexed slot; a slot's key must not change while it is indexed.
#[derive(Debug, Default)]
pub struct SlotIndex {
    table: HashTable<u32>,
    hasher: Keyed,
}

impl SlotIndex {
    /// The slot whose record holds `key`.
    #[inline]
    pub fn find<'a, Q: Hash + Eq + ?Sized + 'a>(
        &self,
        key: &Q,
        key_at: impl Fn(u32) -> &'a Q,
    ) -> Option<u32> {
        self.table
            .find(self.hasher.hash_one(key), |&slot| key_at(slot) == key)
            .copied()
    }

    /// Indexes `slot`, whose record holds `key`, a key no other indexed
    /// slot holds.
    pub fn insert<'a, Q: Hash + ?Sized + 'a>(
        &mut self,
        key: &Q,
        slot: u32,
        key_at: impl Fn(u32) -> &'a Q,
    ) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hasher.hash_one(key), slot, |&s| hasher.hash_one(key_at(s)));
    }

    /// Takes the slot whose record holds `key` out of the index.
    pub fn remove<'a, Q: Hash + Eq + ?Sized + 'a>(
        &mut self,
        key: &Q,
        key_at: impl Fn(u32) -> &'a Q,
    ) -> Option<u32> {
        let entry = self
            .table
            .find_entry(self.hasher.hash_one(key), |&slot| key_at(slot) == key)
            .ok()?;
        Some(entry.remove().0)
    }

    /// Takes `slot` out of the index if it is there under `key`, the key
    /// its record held when indexed; true if it was. One probe, and no
    /// record is read: the record may be gone already.
    pub fn remove_slot<Q: Hash + ?Sized>(&mut self, key: &Q, slot: u32) -> bool {
        match self
            .table
            .find_entry(self.hasher.hash_one(key), |&s| s == slot)
        {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Slots indexed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no slot is indexed.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

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

    #[test]
    fn a_slot_index_finds_slots_by_the_keys_their_records_hold() {
        let mut records: Vec<&[u8]> = vec![b"a", b"bb", b"ccc"];
        let mut index = SlotIndex::default();
        for (slot, key) in records.iter().enumerate() {
            index.insert(*key, slot as u32, |s| records[s as usize]);
        }
        assert_eq!(index.len(), 3);
        assert_eq!(index.find(&b"bb"[..], |s| records[s as usize]), Some(1));
        assert_eq!(index.find(&b"dd"[..], |s| records[s as usize]), None);
        assert_eq!(index.remove(&b"a"[..], |s| records[s as usize]), Some(0));
        assert_eq!(index.remove(&b"a"[..], |s| records[s as usize]), None);
        // Slot 0 takes a new record, and with it a new key.
        records[0] = b"dd";
        index.insert(&b"dd"[..], 0, |s| records[s as usize]);
        assert_eq!(index.find(&b"dd"[..], |s| records[s as usize]), Some(0));
        assert_eq!(index.find(&b"ccc"[..], |s| records[s as usize]), Some(2));
        assert!(!index.is_empty());
        // By slot, with no record to read: only the slot under that key.
        assert!(!index.remove_slot(&b"ccc"[..], 1), "slot 1 is under bb");
        assert!(index.remove_slot(&b"ccc"[..], 2));
        assert!(!index.remove_slot(&b"ccc"[..], 2), "removed once");
        assert_eq!(index.find(&b"ccc"[..], |s| records[s as usize]), None);
        assert_eq!(index.len(), 2);
    }
}
