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

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use super::keyvalue::{Key, Value};

const SHARDS: usize = 64;

type Shard = RwLock<HashMap<Box<str>, Value>>;

/// A put that would take the map past its `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

pub struct ShardedMap {
    shards: Box<[Shard]>,
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

    fn shard(&self, key: &str) -> &Shard {
        let index = self.hasher.hash_one(key) as usize % self.shards.len();
        &self.shards[index]
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
        let shard = self.shard(key.as_str());
        // A panic while a lock is held cannot leave a HashMap half-updated, so a poisoned
        // lock's data is still sound.
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = map.get_mut(key.as_str()) {
            let (new_len, old_len) = (value.as_str().len(), old.as_str().len());
            if new_len > old_len {
                self.reserve(new_len - old_len)?;
            } else {
                self.release(old_len - new_len);
            }
            *old = value;
            return Ok(true);
        }
        self.reserve(key.as_str().len() + value.as_str().len())?;
        map.insert(key.into_boxed_str(), value);
        Ok(false)
    }

    pub fn get(&self, key: &Key) -> Option<Value> {
        let shard = self.shard(key.as_str());
        let map = shard.read().unwrap_or_else(PoisonError::into_inner);
        map.get(key.as_str()).cloned()
    }

    /// Removes `key`; answers whether it was there.
    pub fn remove(&self, key: &Key) -> bool {
        let shard = self.shard(key.as_str());
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        let Some(value) = map.remove(key.as_str()) else {
            return false;
        };
        self.release(key.as_str().len() + value.as_str().len());
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
