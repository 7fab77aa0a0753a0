//! [`StatusReader`]: everything the dashboard shows, read at the moment it is asked
//! (`/status`): registered servers, live services, list lengths, the metrics hashes every
//! process adds to, and the recent visits.

use std::collections::BTreeMap;

use actix::prelude::*;
use serde::Serialize;

use crate::error::ActorError;
use crate::ops::metrics::Operation;
use crate::ops::services::{ListServices, Service, ServiceRegistration};
use crate::recent::{RecentList, RecentVisits};
use crate::registry::{ListServers, ServerRegistry};

/// The dashboard's one JSON document.
#[derive(Debug, Serialize)]
pub struct Status {
    pub servers: Vec<String>,
    pub services: Vec<Service>,
    /// Each list this process takes from or moves to, and its length.
    pub queues: BTreeMap<String, i64>,
    /// Per operation, its hash `<prefix>metrics:<operation>` (absent when nothing was measured).
    pub metrics: BTreeMap<&'static str, MetricsSummary>,
    pub recent: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MetricsSummary {
    pub count: u64,
    pub sum_ms: f64,
    pub max_ms: f64,
    pub bucket_ms: f64,
    /// Ten buckets, then the ones past the timeout.
    pub buckets: Vec<u64>,
}

/// Reads the status; what Redis could not answer is left empty rather than failing it all.
#[derive(Debug, Message)]
#[rtype(result = "Result<Status, ActorError>")]
pub struct ReadStatus;

pub struct StatusReader {
    redis: crate::redis::Redis,
    /// Full keys.
    lists: Vec<String>,
    registry: Addr<ServerRegistry>,
    services: Addr<ServiceRegistration>,
    recent: Addr<RecentList>,
}

impl StatusReader {
    pub fn new(
        redis: crate::redis::Redis,
        lists: Vec<String>,
        registry: Addr<ServerRegistry>,
        services: Addr<ServiceRegistration>,
        recent: Addr<RecentList>,
    ) -> Self {
        Self {
            redis,
            lists,
            registry,
            services,
            recent,
        }
    }
}

impl Actor for StatusReader {
    type Context = Context<Self>;
}

impl Handler<ReadStatus> for StatusReader {
    type Result = ResponseFuture<Result<Status, ActorError>>;

    fn handle(&mut self, _: ReadStatus, _: &mut Self::Context) -> Self::Result {
        let redis = self.redis.clone();
        let lists = self.lists.clone();
        let registry = self.registry.clone();
        let services = self.services.clone();
        let recent = self.recent.clone();
        Box::pin(async move {
            let servers = registry.send(ListServers {}).await?.unwrap_or_default();
            let services = services.send(ListServices).await?.unwrap_or_default();
            let recent = recent.send(RecentVisits {}).await?.unwrap_or_default();
            let queues = redis.lengths(lists).await;
            let mut metrics = BTreeMap::new();
            for operation in Operation::ALL {
                let hash = redis.hash(&redis.keys().metrics(operation.name())).await;
                if let Some(summary) = hash.ok().as_ref().and_then(summary) {
                    metrics.insert(operation.name(), summary);
                }
            }
            Ok(Status {
                servers,
                services,
                queues: queues.into_iter().collect(),
                metrics,
                recent,
            })
        })
    }
}

/// A metrics hash as the dashboard reads it; `None` when empty.
fn summary(fields: &std::collections::HashMap<String, String>) -> Option<MetricsSummary> {
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<f64>().ok());
    let count = number("count")? as u64;
    let mut buckets: Vec<u64> = (0..10)
        .map(|i| number(&format!("b{i}")).unwrap_or(0.0) as u64)
        .collect();
    buckets.push(number("over").unwrap_or(0.0) as u64);
    Some(MetricsSummary {
        count,
        sum_ms: number("sum").unwrap_or(0.0),
        max_ms: number("max").unwrap_or(0.0),
        bucket_ms: number("bucket_ms").unwrap_or(0.0),
        buckets,
    })
}
