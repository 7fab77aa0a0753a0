//! [`Cluster`]: what a handle on a Redis Cluster knows: which master serves each slot, and one
//! pipelined [`Connection`] per master, each opened on first use and opened again after it
//! breaks. Commands are routed by [`super::Redis`] (routing.rs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis_async::error::Error as RedisError;
use redis_async::resp::RespValue;
use redis_async::resp_array;

use super::config::RedisConfig;
use super::connection::Connection;
use super::slots::SlotMap;
use super::url_parts::Address;

pub struct Cluster {
    seeds: Vec<Address>,
    map: Mutex<Arc<SlotMap>>,
    nodes: Mutex<HashMap<Address, Node>>,
    /// One reading of the map at a time; the others wait for its result.
    refreshing: tokio::sync::Mutex<()>,
    /// Whether no node could be asked for the map, the last time one was needed.
    map_unreadable: AtomicBool,
    /// When the map was last read: it is read again at most every [`MAP_READ_EVERY`].
    map_read_at: Mutex<Option<Instant>>,
}

/// The longest one node may take to give the map: a frozen one leaves time to ask the next.
const CANDIDATE_WAIT: Duration = Duration::from_millis(250);

/// The least time between two readings of the map: commands failing on a lost node ask for
/// it again until its replica is promoted, without flooding the nodes that answer.
const MAP_READ_EVERY: Duration = Duration::from_millis(100);

/// A master's connection, or the lock its one opening attempt holds.
#[derive(Default)]
struct Node {
    connection: Option<Connection>,
    /// Whether its last command failed for want of an answer (its outage is logged once).
    unreachable: bool,
    /// One connection attempt per node at a time: a frozen node holds back only its own.
    connecting: Arc<tokio::sync::Mutex<()>>,
}

impl Cluster {
    pub fn new(seeds: &[Address]) -> Self {
        Self {
            seeds: seeds.to_vec(),
            map: Mutex::new(Arc::new(SlotMap::empty())),
            nodes: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
            map_unreadable: AtomicBool::new(false),
            map_read_at: Mutex::new(None),
        }
    }

    fn map(&self) -> Arc<SlotMap> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The master serving `slot` (any known master for none), the map read first when it
    /// names none.
    pub async fn owner(
        &self,
        config: &RedisConfig,
        slot: Option<u16>,
    ) -> Result<Address, RedisError> {
        if let Some(found) = self.known_owner(slot) {
            return Ok(found);
        }
        self.refresh(config).await?;
        self.known_owner(slot).ok_or_else(|| {
            RedisError::Internal(format!(
                "the cluster's map names no master for slot {}",
                slot.unwrap_or_default()
            ))
        })
    }

    fn known_owner(&self, slot: Option<u16>) -> Option<Address> {
        let map = self.map();
        match slot {
            Some(slot) => map.owner(slot).cloned(),
            None => map.masters().first().cloned(),
        }
    }

    /// Reads the slot map again, from the masters it names and then the seeds, the first that
    /// answers; a reading already under way is waited for instead.
    pub async fn refresh(&self, config: &RedisConfig) -> Result<(), RedisError> {
        let before = self.map();
        let _only_reading = self.refreshing.lock().await;
        {
            let mut read_at = self
                .map_read_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let recent = read_at.is_some_and(|at| at.elapsed() < MAP_READ_EVERY);
            if !Arc::ptr_eq(&before, &self.map()) || recent && !before.masters().is_empty() {
                return Ok(());
            }
            *read_at = Some(Instant::now());
        }
        let mut candidates = before.masters().to_vec();
        candidates.extend(
            self.seeds
                .iter()
                .filter(|s| !before.masters().contains(s))
                .cloned(),
        );
        // Nodes that last failed to answer are asked last: a frozen one costs its wait.
        candidates.sort_by_key(|address| self.is_unreachable(address));
        let mut failures = Vec::new();
        for address in candidates {
            let read = async {
                let (connection, _) = self.node(config, &address).await?;
                let answer = connection.send(resp_array!["CLUSTER", "SLOTS"]).await?;
                if let RespValue::Error(reason) = answer {
                    return Err(RedisError::Remote(reason));
                }
                SlotMap::parse(answer, &address).map_err(RedisError::Unexpected)
            };
            match tokio::time::timeout(CANDIDATE_WAIT, read).await {
                Ok(Ok(map)) if !map.masters().is_empty() => {
                    *self.map.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
                    return Ok(());
                }
                Ok(Ok(_)) => failures.push(format!("{address}: no slot is served")),
                Ok(Err(err)) => failures.push(format!("{address}: {err}")),
                Err(_) => failures.push(format!("{address}: no answer in {CANDIDATE_WAIT:?}")),
            }
        }
        Err(RedisError::Internal(format!(
            "no cluster node gave its slot map ({})",
            failures.join("; ")
        )))
    }

    /// The connection to the node at `address`, opened if there is none; `true` when it was
    /// opened before.
    pub async fn node(
        &self,
        config: &RedisConfig,
        address: &Address,
    ) -> Result<(Connection, bool), RedisError> {
        let connecting = {
            let mut nodes = self.nodes();
            let node = nodes.entry(address.clone()).or_default();
            if let Some(connection) = &node.connection {
                return Ok((connection.clone(), true));
            }
            node.connecting.clone()
        };
        let _only_attempt = connecting.lock().await;
        if let Some(connection) = self.nodes().get(address).and_then(|n| n.connection.clone()) {
            return Ok((connection, false));
        }
        let connection = Connection::open_at(config, address).await?;
        self.nodes().entry(address.clone()).or_default().connection = Some(connection.clone());
        Ok((connection, false))
    }

    /// `connection` to `address` broke or timed out: closed, and the next command opens
    /// another (unless that happened already).
    pub fn forget(&self, address: &Address, connection: &Connection) {
        if let Some(node) = self.nodes().get_mut(address) {
            if node
                .connection
                .as_ref()
                .is_some_and(|current| current.same(connection))
            {
                node.connection = None;
            }
        }
        connection.close();
    }

    /// Notes that the map could not be read; whether that is news.
    pub fn map_unreadable(&self) -> bool {
        !self.map_unreadable.swap(true, Ordering::Relaxed)
    }

    /// Notes that a command was answered; whether the map was unreadable until now.
    pub fn map_read_again(&self) -> bool {
        self.map_unreadable.swap(false, Ordering::Relaxed)
    }

    fn is_unreachable(&self, address: &Address) -> bool {
        self.nodes()
            .get(address)
            .is_some_and(|node| node.unreachable)
    }

    /// Notes whether the node at `address` answered; whether that changed.
    pub fn mark(&self, address: &Address, reachable: bool) -> bool {
        let mut nodes = self.nodes();
        let node = nodes.entry(address.clone()).or_default();
        let changed = node.unreachable == reachable;
        node.unreachable = !reachable;
        changed
    }

    fn nodes(&self) -> std::sync::MutexGuard<'_, HashMap<Address, Node>> {
        // Entries are only ever replaced whole, so a poisoned lock still holds sound values.
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
