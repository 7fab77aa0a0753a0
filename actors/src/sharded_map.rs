//! The key-value map behind every `Store` actor of one process.
//!
//! Each worker thread runs its own `Store` actor so a request never hops threads to reach it;
//! all of them share this map, so the process still holds exactly one store. The map is split
//! into shards, each behind its own lock, so two threads touching different keys rarely wait
//! for each other. A lock is held only for one hash-map operation.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{PoisonError, RwLock};

use crate::keyvalue::{Key, Value};

const SHARDS: usize = 64;

type Shard = RwLock<HashMap<Box<str>, Value>>;

pub struct ShardedMap {
    shards: Box<[Shard]>,
    hasher: RandomState,
}

impl Default for ShardedMap {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl ShardedMap {
    fn shard(&self, key: &str) -> &Shard {
        let index = self.hasher.hash_one(key) as usize % self.shards.len();
        &self.shards[index]
    }

    /// Stores `value` under `key`; answers whether a value was there before.
    pub fn insert(&self, key: Key, value: Value) -> bool {
        let shard = self.shard(key.as_str());
        // A panic while a lock is held cannot leave a HashMap half-updated, so a poisoned
        // lock's data is still sound.
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(key.into_boxed_str(), value).is_some()
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
        map.remove(key.as_str()).is_some()
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
    use crate::keyvalue::testing::{key, value};
    use std::sync::Arc;

    #[test]
    fn insert_reports_replacement_and_remove_reports_presence() {
        let map = ShardedMap::default();
        assert!(!map.insert(key("a"), value("1")));
        assert!(map.insert(key("a"), value("2")));
        assert_eq!(map.get(&key("a")), Some(value("2")));
        assert!(map.remove(&key("a")));
        assert!(!map.remove(&key("a")));
        assert_eq!(map.get(&key("a")), None);
        assert!(map.is_empty());
    }

    #[test]
    fn writers_on_many_threads_see_one_map() {
        let map = Arc::new(ShardedMap::default());
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let map = Arc::clone(&map);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        map.insert(key(&format!("k{t}_{i}")), value("v"));
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
