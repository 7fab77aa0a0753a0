//! The key-value map behind every `Store` actor of one process.
//!
//! Each worker thread runs its own `Store` actor so a request never hops threads to reach it;
//! all of them share this map, so the process still holds exactly one store. The map is split
//! into shards, each behind its own lock, so two threads touching different keys rarely wait
//! for each other. A lock is held only for one hash-map operation.
//!
//! The map holds at most `max_bytes` of keys and values. The count is one atomic number,
//! changed while the key's shard is locked: the entry being replaced cannot change meanwhile,
//! and two threads filling different shards cannot both take the last room.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use super::keyvalue::{Key, Value};
use super::packed_shard::PackedShard;

const SHARDS: usize = 64;

type Shard = RwLock<PackedShard>;

/// A put that would take the map past its `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

pub struct ShardedMap {
    shards: Box<[Shard]>,
    /// Keys are a client's choice: a keyed hash, so none can pick keys that collide.
    hasher: RandomState,
    /// Bytes of keys and values held.
    used: AtomicUsize,
    max_bytes: usize,
}

impl ShardedMap {
    /// An empty map that holds at most `max_bytes` of keys and values.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: RandomState::new(),
            used: AtomicUsize::new(0),
            max_bytes,
        }
    }

    /// The key's hash, and its shard: chosen by bits of the hash that the shard's own table
    /// does not use (it takes the lowest for the bucket and the highest seven for its tags).
    fn locate(&self, key: &Key) -> (u64, &Shard) {
        let hash = self.hasher.hash_one(key.as_str().as_bytes());
        let index = (hash >> 32) as usize % self.shards.len();
        (hash, &self.shards[index])
    }

    /// Counts `bytes` more as held, unless that would pass `max_bytes`.
    fn reserve(&self, bytes: usize) -> Result<(), Full> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes)
                    .filter(|&total| total <= self.max_bytes)
            })
            .map(drop)
            .map_err(|_| Full)
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Stores `value` under `key`; answers whether a value was there before. Refused when the
    /// map would hold more than `max_bytes`; a value no larger than the one it replaces always
    /// fits.
    pub fn insert(&self, key: Key, value: Value) -> Result<bool, Full> {
        let (hash, shard) = self.locate(&key);
        let (key, value) = (key.as_str().as_bytes(), value.as_str().as_bytes());
        // A panic while a lock is held cannot leave a shard half-updated (its writes are
        // appends and in-place copies made after every check), so a poisoned lock's data is
        // still sound.
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        let old_len = shard.value_len(hash, key);
        // What the insert adds to the count (negative: frees).
        let growth = value.len() as isize - old_len.map_or(-(key.len() as isize), |l| l as isize);
        if growth > 0 {
            self.reserve(growth.unsigned_abs())?;
        }
        if shard.insert(&self.hasher, hash, key, value).is_err() {
            if growth > 0 {
                self.release(growth.unsigned_abs());
            }
            return Err(Full);
        }
        if growth < 0 {
            self.release(growth.unsigned_abs());
        }
        Ok(old_len.is_some())
    }

    pub fn get(&self, key: &Key) -> Option<Value> {
        let (hash, shard) = self.locate(key);
        let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
        let bytes = shard.get(hash, key.as_str().as_bytes())?;
        // Stored from a `Value`: valid UTF-8 of a valid length.
        Value::new(std::str::from_utf8(bytes).ok()?).ok()
    }

    /// Removes `key`; answers whether it was there.
    pub fn remove(&self, key: &Key) -> bool {
        let (hash, shard) = self.locate(key);
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        let key = key.as_str().as_bytes();
        let Some(value_len) = shard.remove(&self.hasher, hash, key) else {
            return false;
        };
        self.release(key.len() + value_len);
        true
    }

    /// Bytes of keys and values held.
    pub fn bytes_held(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvs::keyvalue::testing::{key, value};
    use std::sync::Arc;

    #[test]
    fn insert_reports_replacement_and_remove_reports_presence() {
        let map = ShardedMap::new(usize::MAX);
        assert_eq!(map.insert(key("a"), value("1")), Ok(false));
        assert_eq!(map.insert(key("a"), value("2")), Ok(true));
        assert_eq!(map.get(&key("a")), Some(value("2")));
        assert!(map.remove(&key("a")));
        assert!(!map.remove(&key("a")));
        assert_eq!(map.get(&key("a")), None);
        assert!(map.is_empty());
        assert_eq!(map.bytes_held(), 0);
    }

    #[test]
    fn the_byte_cap_refuses_growth_but_never_shrinking_or_removal() {
        // "k1" + "12345678" is 10 bytes.
        let map = ShardedMap::new(10);
        assert_eq!(map.insert(key("k1"), value("12345678")), Ok(false));
        assert_eq!(map.insert(key("k2"), value("1")), Err(Full));
        assert_eq!(map.insert(key("k1"), value("123456789")), Err(Full));
        assert_eq!(map.get(&key("k1")), Some(value("12345678")));
        assert_eq!(map.insert(key("k1"), value("1")), Ok(true));
        assert_eq!(map.bytes_held(), 3);
        assert_eq!(map.insert(key("k2"), value("12345")), Ok(false));
        assert_eq!(map.bytes_held(), 10);
        assert!(map.remove(&key("k2")));
        assert_eq!(map.bytes_held(), 3);
    }

    #[test]
    fn threads_filling_at_once_never_pass_the_cap() {
        let map = Arc::new(ShardedMap::new(10_000));
        let fillers: Vec<_> = (0..4)
            .map(|t| {
                let map = Arc::clone(&map);
                std::thread::spawn(move || {
                    (0..1000)
                        .filter(|i| map.insert(key(&format!("t{t}_{i:04}")), value("v")).is_ok())
                        .count()
                })
            })
            .collect();
        let stored: usize = fillers.into_iter().map(|f| f.join().unwrap()).sum();
        // Each entry is 8 bytes ("t0_0000" and "v"): as many as fit, and not one more.
        assert_eq!(stored, 10_000 / 8);
        assert_eq!(map.bytes_held(), stored * 8);
        assert_eq!(map.len(), stored);
    }

    #[test]
    fn writers_on_many_threads_see_one_map() {
        let map = Arc::new(ShardedMap::new(usize::MAX));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let map = Arc::clone(&map);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        map.insert(key(&format!("k{t}_{i}")), value("v")).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(map.len(), 4000);
    }
}
