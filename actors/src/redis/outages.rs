//! An outage logged when it starts and when it ends, once per process whatever the number of
//! handles on the same Redis.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use super::Redis;
use crate::error::{chain, ActorError};

impl Redis {
    pub(super) fn note_reachability<T>(&self, result: &Result<T, ActorError>) {
        let unreachable = matches!(result, Err(ActorError::RedisUnavailable(_)));
        if self.shared.reachable.swap(!unreachable, Ordering::Relaxed) != unreachable {
            return;
        }
        // Every handle on the same Redis notices an outage: the process logs it once.
        let described = self.shared.config.describe();
        let mut outages = OUTAGES.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Err(err) if unreachable => {
                if outages.insert(described.clone()) {
                    log::warn!("{described}: {}", chain(err));
                }
            }
            _ => {
                if outages.remove(&described) {
                    log::info!("{described} answers again");
                }
            }
        }
    }
}

/// The Redis servers (as [`super::RedisConfig::describe`] names them) this process cannot reach now.
static OUTAGES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
