//! [`StatusReader`]: everything the dashboard shows, read at the moment it is asked
//! (`/status`): registered servers, live services, the fleet's list lengths, the metrics hashes every
//! process adds to, and the recent visits.

use std::collections::BTreeMap;

use actix::prelude::*;
use redis_async::resp_array;
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
    /// Each list a live process of the fleet (this one included) takes from or feeds, and its
    /// length.
    pub queues: BTreeMap<String, i64>,
    /// Per operation, its hash `<prefix>metrics:<operation>` (absent when nothing was measured).
    pub metrics: BTreeMap<&'static str, MetricsSummary>,
    pub recent: Vec<String>,
    /// The ids of the latest tracked messages found past their deadline unanswered, newest
    /// first (`MESSAGE_TRACKING`).
    pub timeouts: Vec<u64>,
}

#[derive(Debug, Serialize)]
pub struct MetricsSummary {
    pub count: u64,
    pub sum_ms: f64,
    pub max_ms: f64,
    /// Tracked messages past their deadline unanswered (the gateway's, `MESSAGE_TRACKING`).
    pub timeout: u64,
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
            let mut every_list = lists;
            every_list.extend(services.iter().flat_map(|service| service.lists.clone()));
            every_list.sort();
            every_list.dedup();
            let queues = redis.lengths(every_list).await;
            let mut metrics = BTreeMap::new();
            for operation in Operation::ALL {
                let hash = redis.hash(&redis.keys().metrics(operation.name())).await;
                if let Some(summary) = hash.ok().as_ref().and_then(summary) {
                    metrics.insert(operation.name(), summary);
                }
            }
            let latest = resp_array!["LRANGE", redis.keys().tracked_timeouts(), "0", "19"];
            let timeouts: Vec<String> = redis.command(latest).await.unwrap_or_default();
            Ok(Status {
                servers,
                services,
                queues: queues.into_iter().collect(),
                metrics,
                recent,
                timeouts: timeouts.iter().filter_map(|id| id.parse().ok()).collect(),
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
        timeout: number("timeout").unwrap_or(0.0) as u64,
        bucket_ms: number("bucket_ms").unwrap_or(0.0),
        buckets,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use redis_async::resp_array;
    use tokio::sync::oneshot;

    use super::*;
    use crate::ops::services::ServiceInfo;
    use crate::recent::RecordVisit;
    use crate::registry::{AppServer, Launcher, RegistrySettings};
    use crate::test_redis::{cmd, free_ports, push, until, TestRedis};

    struct NoLaunches;

    impl Launcher for NoLaunches {
        fn launch(&self, _: u16) -> std::io::Result<Box<dyn AppServer>> {
            Err(std::io::Error::other("this launcher starts nothing"))
        }
    }

    #[actix::test]
    async fn answers_what_redis_and_the_registry_hold() {
        let server = TestRedis::start();
        let (redis, keys) = (server.redis(), server.redis().keys().clone());
        let (q1, q2) = (keys.named("q1"), keys.named("q2"));
        push(&redis, &q1, &["a", "b", "c"]).await;
        let hset = resp_array![
            "HSET",
            keys.metrics("gateway"),
            "count",
            "2",
            "sum",
            "5.5",
            "max",
            "4",
            "bucket_ms",
            "100",
            "b0",
            "1",
            "b3",
            "1"
        ];
        let _: i64 = cmd(&redis, hset).await;
        let own_url = "http://127.0.0.1:8080";
        let settings = RegistrySettings {
            ports: free_ports(1),
            max: 1,
            advertise_host: "127.0.0.1".into(),
            heartbeat: Duration::from_secs(1),
            own_url: Some(own_url.into()),
        };
        let registry = ServerRegistry::new(server.redis(), Box::new(NoLaunches), settings).start();
        // Another process's list, named by its registration, and one both name.
        let theirs = keys.named("theirs");
        let info = ServiceInfo {
            roles: "main".into(),
            host: "h".into(),
            pid: 7,
            version: "v1",
            lists: vec![theirs.clone(), q2.clone()],
        };
        let (stop, _stopped) = oneshot::channel();
        let beat = Duration::from_secs(1);
        let services = ServiceRegistration::new(server.redis(), info, beat, stop).start();
        let recent = RecentList::new(server.redis(), 10).start();
        recent.do_send(RecordVisit {
            visit: "GET /x".into(),
        });
        let lists = vec![q1.clone(), q2.clone()];
        let reader = StatusReader::new(server.redis(), lists, registry, services, recent).start();
        let status = until("servers, services and visits", || async {
            let status = reader.send(ReadStatus).await.unwrap().unwrap();
            let all = [&status.servers, &status.recent]
                .iter()
                .all(|v| !v.is_empty());
            (all && !status.services.is_empty()).then_some(status)
        })
        .await;
        assert_eq!(status.servers, [own_url]);
        let services: Vec<_> = status.services.iter().map(|s| (&*s.roles, s.pid)).collect();
        assert_eq!(services, [("main", 7)]);
        assert_eq!(
            status.queues,
            BTreeMap::from([(q1, 3), (q2, 0), (theirs, 0)])
        );
        assert_eq!(status.recent, ["GET /x"]);
        assert_eq!(
            status.metrics.keys().copied().collect::<Vec<_>>(),
            ["gateway"]
        );
        let gateway = &status.metrics["gateway"];
        let read = (
            gateway.count,
            gateway.sum_ms,
            gateway.max_ms,
            gateway.bucket_ms,
        );
        assert_eq!(read, (2, 5.5, 4.0, 100.0));
        assert_eq!(gateway.buckets, [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        // What Redis does not hold is left empty, not an error.
        let _: i64 = cmd(&redis, resp_array!["DEL", keys.metrics("gateway")]).await;
        let status = reader.send(ReadStatus).await.unwrap().unwrap();
        assert!(status.metrics.is_empty());
    }
}
