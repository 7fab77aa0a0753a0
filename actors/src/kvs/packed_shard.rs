//! [`PackedShard`]: one shard of the store, its entries packed end to end in one growing
//! buffer (an arena), and a hash table of their offsets.
//!
//! Why: a map of boxed keys to shared values costs, beside the bytes themselves, two heap
//! allocations per entry (each with malloc's header and rounding) and a 32-byte table slot.
//! Here an entry costs 5 bytes of header in the arena and a 4-byte slot (docs/benchmarks.md has
//! the figures). An entry is `[key length: u8][value length: u32 LE][key][value]`.
//!
//! A replaced value of the same length is overwritten in place; any other replacement or
//! removal leaves its old bytes dead in the arena, and the shard is compacted (live entries
//! copied to a new arena) once dead bytes are more than half of it.

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Bytes before an entry's key: its key's length, its value's length.
const HEADER: usize = 5;

/// Below this, an arena is never compacted: copying would cost more than it frees.
const COMPACT_FROM: usize = 64 * 1024;

/// An arena may not grow past what an offset can address.
const MAX_ARENA: usize = u32::MAX as usize;

/// An insert the arena has no room for, even compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaFull;

#[derive(Default)]
pub struct PackedShard {
    /// Offsets of live entries in `arena`.
    index: HashTable<u32>,
    arena: Vec<u8>,
    /// Bytes of `arena` no live entry uses.
    dead: usize,
}

/// Where one entry is and how long its parts are.
#[derive(Clone, Copy)]
struct Entry {
    offset: usize,
    key_len: usize,
    value_len: usize,
}

impl Entry {
    fn at(arena: &[u8], offset: u32) -> Self {
        let offset = offset as usize;
        let mut value_len = [0u8; 4];
        value_len.copy_from_slice(&arena[offset + 1..offset + HEADER]);
        Self {
            offset,
            key_len: arena[offset] as usize,
            value_len: u32::from_le_bytes(value_len) as usize,
        }
    }

    fn key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        let start = self.offset + HEADER;
        &arena[start..start + self.key_len]
    }

    fn value_range(&self) -> std::ops::Range<usize> {
        let start = self.offset + HEADER + self.key_len;
        start..start + self.value_len
    }

    fn len(&self) -> usize {
        HEADER + self.key_len + self.value_len
    }
}

impl PackedShard {
    fn find(&self, hash: u64, key: &[u8]) -> Option<Entry> {
        let arena = &self.arena;
        self.index
            .find(hash, |&offset| Entry::at(arena, offset).key(arena) == key)
            .map(|&offset| Entry::at(arena, offset))
    }

    /// The value under `key` (whose hash by `hasher` is `hash`).
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&[u8]> {
        self.find(hash, key)
            .map(|entry| &self.arena[entry.value_range()])
    }

    /// The length of the value under `key`, if any.
    pub fn value_len(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.find(hash, key).map(|entry| entry.value_len)
    }

    /// Stores `value` under `key` (at most 255 bytes), replacing any value there.
    pub fn insert(
        &mut self,
        hasher: &impl BuildHasher,
        hash: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), ArenaFull> {
        if let Some(old) = self.find(hash, key) {
            if old.value_len == value.len() {
                self.arena[old.value_range()].copy_from_slice(value);
                return Ok(());
            }
        }
        let needed = HEADER + key.len() + value.len();
        if self.arena.len() + needed > MAX_ARENA {
            self.compact(hasher);
            if self.arena.len() + needed > MAX_ARENA {
                return Err(ArenaFull);
            }
        }
        // The old entry (if any) is found again: compaction may have moved it.
        let offset = self.arena.len() as u32;
        self.append(key, value);
        let arena = &self.arena;
        let slot = self.index.find_mut(hash, |&at| {
            at != offset && Entry::at(arena, at).key(arena) == key
        });
        match slot {
            Some(slot) => {
                self.dead += Entry::at(arena, *slot).len();
                *slot = offset;
            }
            None => {
                let arena = &self.arena;
                self.index.insert_unique(hash, offset, |&at| {
                    hasher.hash_one(Entry::at(arena, at).key(arena))
                });
            }
        }
        self.compact_if_mostly_dead(hasher);
        Ok(())
    }

    /// Removes `key`; answers the length of the value it had.
    pub fn remove(&mut self, hasher: &impl BuildHasher, hash: u64, key: &[u8]) -> Option<usize> {
        let arena = &self.arena;
        let found = self
            .index
            .find_entry(hash, |&offset| Entry::at(arena, offset).key(arena) == key)
            .ok()?;
        let (offset, _) = found.remove();
        let entry = Entry::at(&self.arena, offset);
        self.dead += entry.len();
        self.compact_if_mostly_dead(hasher);
        Some(entry.value_len)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    fn append(&mut self, key: &[u8], value: &[u8]) {
        // Keys are at most 250 bytes and values at most 1.5 MiB (checked by their types).
        self.arena.push(key.len() as u8);
        self.arena
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
    }

    fn compact_if_mostly_dead(&mut self, hasher: &impl BuildHasher) {
        if self.arena.len() >= COMPACT_FROM && self.dead * 2 > self.arena.len() {
            self.compact(hasher);
        }
    }

    /// Copies the live entries to a new arena, exactly as large as they need.
    fn compact(&mut self, hasher: &impl BuildHasher) {
        let mut packed = Vec::with_capacity(self.arena.len() - self.dead);
        for offset in self.index.iter_mut() {
            let entry = Entry::at(&self.arena, *offset);
            *offset = packed.len() as u32;
            packed.extend_from_slice(&self.arena[entry.offset..entry.offset + entry.len()]);
        }
        self.arena = packed;
        self.dead = 0;
        let arena = &self.arena;
        self.index
            .shrink_to_fit(|&at| hasher.hash_one(Entry::at(arena, at).key(arena)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::RandomState;

    fn put(shard: &mut PackedShard, hasher: &RandomState, key: &str, value: &str) {
        let hash = hasher.hash_one(key.as_bytes());
        shard
            .insert(hasher, hash, key.as_bytes(), value.as_bytes())
            .unwrap();
    }

    fn get(shard: &PackedShard, hasher: &RandomState, key: &str) -> Option<String> {
        let hash = hasher.hash_one(key.as_bytes());
        shard
            .get(hash, key.as_bytes())
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn entries_are_replaced_removed_and_survive_compaction() {
        let hasher = RandomState::new();
        let mut shard = PackedShard::default();
        put(&mut shard, &hasher, "a", "one");
        put(&mut shard, &hasher, "a", "two");
        assert_eq!(shard.arena.len(), HEADER + 4, "same length: in place");
        put(&mut shard, &hasher, "a", "three");
        assert_eq!(get(&shard, &hasher, "a").as_deref(), Some("three"));
        assert_eq!(shard.dead, HEADER + 4);
        assert_eq!(shard.len(), 1);
        // Enough churn to pass the compaction threshold many times over.
        for round in 0..50 {
            for n in 0..200 {
                let value = "v".repeat(1 + (n + round) % 40);
                put(&mut shard, &hasher, &format!("k{n}"), &value);
            }
            let gone = format!("k{}", round * 3);
            let hash = hasher.hash_one(gone.as_bytes());
            assert!(shard.remove(&hasher, hash, gone.as_bytes()).is_some());
        }
        for n in 0..200 {
            // Every round puts every key again; the last one removed k147.
            let expected = (n != 147).then(|| "v".repeat(1 + (n + 49) % 40));
            assert_eq!(get(&shard, &hasher, &format!("k{n}")), expected, "k{n}");
        }
        assert_eq!(get(&shard, &hasher, "a").as_deref(), Some("three"));
        // About 250 kB were appended: compaction kept the arena to its live entries and less
        // dead than live past the threshold.
        assert!(
            shard.arena.len() < 2 * COMPACT_FROM,
            "{}",
            shard.arena.len()
        );
        assert!(shard.arena.len() < COMPACT_FROM || shard.dead * 2 <= shard.arena.len());
        let live: usize = shard
            .index
            .iter()
            .map(|&at| Entry::at(&shard.arena, at).len())
            .sum();
        assert_eq!(live + shard.dead, shard.arena.len());
    }
}
