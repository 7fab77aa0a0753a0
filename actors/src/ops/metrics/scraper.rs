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
            let timeouts = RespValue::Array(vec![
                "HGET".into(),
                redis.keys().metrics("gateway").into(),
                "timeout".into(),
            ]);
            let gateway_timeouts = redis.command::<Option<String>>(timeouts).await.ok();
            let state = State {
                queue_lengths,
                servers: redis.command::<i64>(servers).await.ok(),
                gateway_timeouts: gateway_timeouts
                    .map(|t| t.and_then(|t| t.parse().ok()).unwrap_or(0)),
                kvs_keys,
                kvs_bytes,
            };
            metrics.set_state(&state);
            metrics.render()
        })
    }
}

#[cfg(test)]
mod tests {
    use redis_async::resp_array;

    use super::*;
    use crate::kvs::keyvalue::testing::{key, value};
    use crate::test_redis::{cmd, metrics, push, TestRedis};

    #[actix::test]
    async fn a_scrape_names_each_list_s_length_the_registry_s_size_and_the_store() {
        let server = TestRedis::start();
        let (redis, keys) = (server.redis(), server.redis().keys().clone());
        let (q1, q2) = (keys.named("q1"), keys.named("q2"));
        push(&redis, &q1, &["a", "b"]).await;
        let servers = resp_array!["ZADD", keys.servers(), "1", "http://a:1", "2", "http://b:2"];
        let _: i64 = cmd(&redis, servers).await;
        let store = Arc::new(ShardedMap::new(1024));
        store.insert(key("k"), value("vv")).unwrap();
        let lists = vec![q1.clone(), q2.clone()];
        let scraper = MetricsScraper::new(server.redis(), metrics(), lists, Some(store)).start();
        let text = scraper.send(Scrape).await.unwrap();
        let expected = [
            format!(r#"switchyard_queue_length{{list="{q1}"}} 2"#),
            format!(r#"switchyard_queue_length{{list="{q2}"}} 0"#),
            "switchyard_registered_servers 2".to_owned(),
            "switchyard_kvs_keys 1".to_owned(),
            "switchyard_kvs_bytes 3".to_owned(),
        ];
        for line in expected {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        // Read again at each scrape.
        push(&redis, &q2, &["c"]).await;
        let text = scraper.send(Scrape).await.unwrap();
        let line = format!(r#"switchyard_queue_length{{list="{q2}"}} 1"#);
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
}
