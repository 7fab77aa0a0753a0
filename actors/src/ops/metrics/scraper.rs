//! [`MetricsScraper`]: what `/metrics` shows, read at the moment it is asked.

use std::sync::Arc;

use actix::prelude::*;
use redis_async::resp::RespValue;

use super::{Metrics, State};
use crate::kvs::sharded_map::ShardedMap;
use crate::redis::Redis;

/// Everything for `/metrics`, the figures read at that moment included.
#[derive(Debug, Message)]
#[rtype(result = "String")]
pub struct Scrape;

/// Reads what `/metrics` shows at the moment it is asked: the lengths of the lists this process
/// takes from or moves to, the registry's size, the store's keys and bytes.
pub struct MetricsScraper {
    redis: Redis,
    metrics: Metrics,
    /// Full keys.
    lists: Vec<String>,
    store: Option<Arc<ShardedMap>>,
}

impl MetricsScraper {
    pub fn new(
        redis: Redis,
        metrics: Metrics,
        lists: Vec<String>,
        store: Option<Arc<ShardedMap>>,
    ) -> Self {
        Self {
            redis,
            metrics,
            lists,
            store,
        }
    }
}

impl Actor for MetricsScraper {
    type Context = Context<Self>;
}

impl Handler<Scrape> for MetricsScraper {
    type Result = ResponseFuture<String>;

    fn handle(&mut self, _: Scrape, _: &mut Self::Context) -> Self::Result {
        let (redis, metrics, lists) =
            (self.redis.clone(), self.metrics.clone(), self.lists.clone());
        let (kvs_keys, kvs_bytes) = self.store.as_ref().map_or((0, 0), |store| {
            (store.len() as i64, store.bytes_held() as i64)
        });
        Box::pin(async move {
            let queue_lengths = redis.lengths(lists).await;
            let servers = RespValue::Array(vec!["ZCARD".into(), redis.keys().servers().into()]);
            let state = State {
                queue_lengths,
                servers: redis.command::<i64>(servers).await.ok(),
                kvs_keys,
                kvs_bytes,
            };
            metrics.set_state(&state);
            metrics.render()
        })
    }
}
