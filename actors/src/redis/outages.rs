//! An outage logged when it starts and when it ends, once per process whatever the number of
//! handles on the same Redis.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use super::Redis;
use crate::error::{chain, ActorError};

impl Redis {
    /// Notes whether `result` found Redis reachable. On a cluster each node's outage is noted
    /// where the command was routed (routing.rs), so one node down is not read as all.
    pub(super) fn note_reachability<T>(&self, result: &Result<T, ActorError>) {
        if self.shared.cluster.is_some() {
            return;
        }
        let unreachable = matches!(result, Err(ActorError::RedisUnavailable(_)));
        if self.shared.reachable.swap(!unreachable, Ordering::Relaxed) != unreachable {
            return;
        }
        note_outage(self.shared.config.describe(), result.as_ref().err());
    }
}

/// Logs the start (an error given) or the end (none) of an outage of `place`, once per
/// process: every handle on the same Redis notices it.
pub(super) fn note_outage(place: String, error: Option<&ActorError>) {
    let mut outages = OUTAGES.lock().unwrap_or_else(PoisonError::into_inner);
    match error {
        Some(err @ ActorError::RedisUnavailable(_)) => {
            if outages.insert(place.clone()) {
                log::warn!("{place}: {}", chain(err));
            }
        }
        _ => {
            if outages.remove(&place) {
                log::info!("{place} answers again");
            }
        }
    }
}

/// The Redis servers (as [`super::RedisConfig::describe`] names them) this process cannot reach now.
static OUTAGES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
