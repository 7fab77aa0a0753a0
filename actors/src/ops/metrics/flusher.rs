//! [`MetricsFlusher`]: adds what the process measured to the Redis hashes
//! `<prefix>metrics:<operation>` once a second.

use std::time::Duration;

use actix::prelude::*;

use super::{Metrics, Operation, Window, BUCKETS};
use crate::error::ActorError;
use crate::heartbeat::{self, Beat, FirstBeat};
use crate::redis::{eval, Redis};

/// KEYS[1] the operation's hash; ARGV: count, sum (ms), max (ms), the bucket width (ms), the
/// ten buckets, past the timeout. Adds them; `max` compared here, so no process's is lost.
const FLUSH: &str = "redis.call('HINCRBY', KEYS[1], 'count', ARGV[1]) \
    redis.call('HINCRBYFLOAT', KEYS[1], 'sum', ARGV[2]) \
    local max = tonumber(redis.call('HGET', KEYS[1], 'max') or '0') \
    if tonumber(ARGV[3]) > max then redis.call('HSET', KEYS[1], 'max', ARGV[3]) end \
    redis.call('HSET', KEYS[1], 'bucket_ms', ARGV[4]) \
    for i = 0, 9 do redis.call('HINCRBY', KEYS[1], 'b' .. i, ARGV[5 + i]) end \
    redis.call('HINCRBY', KEYS[1], 'over', ARGV[15]) \
    return 1";

/// Flushes the process's metrics to Redis once a second.
pub struct MetricsFlusher {
    redis: Redis,
    metrics: Metrics,
}

impl MetricsFlusher {
    pub const EVERY: Duration = Duration::from_secs(1);

    pub fn new(redis: Redis, metrics: Metrics) -> Self {
        Self { redis, metrics }
    }

    fn flush(&mut self) -> Beat<Self> {
        let (redis, metrics) = (self.redis.clone(), self.metrics.clone());
        let work = async move {
            for (operation, window, timeout_ms) in metrics.take() {
                if window.count == 0 {
                    continue;
                }
                if let Err(err) = flush_one(&redis, operation, &window, timeout_ms).await {
                    // Kept for the next flush: nothing measured is lost to an outage.
                    metrics.put_back(operation, &window);
                    log::debug!("metrics of {} not flushed: {err}", operation.name());
                }
            }
        };
        Box::pin(fut::wrap_future(work))
    }
}

async fn flush_one(
    redis: &Redis,
    operation: Operation,
    window: &Window,
    timeout_ms: f64,
) -> Result<(), ActorError> {
    let mut args = vec![
        window.count.to_string(),
        format!("{:.3}", window.sum_ms),
        format!("{:.3}", window.max_ms),
        format!("{:.3}", timeout_ms / BUCKETS as f64),
    ];
    args.extend(window.buckets.iter().map(u64::to_string));
    args.push(window.over.to_string());
    let keys = [redis.keys().metrics(operation.name())];
    let _: i64 = redis.command(eval(FLUSH, &keys, &args)).await?;
    Ok(())
}

impl Actor for MetricsFlusher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        heartbeat::every(ctx, Self::EVERY, FirstBeat::AfterPeriod, Self::flush);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::test_redis::{metrics, until, TestRedis};

    /// The hash at `key` once it counts `count`.
    async fn flushed(redis: &Redis, key: &str, count: &str) -> HashMap<String, String> {
        until(&format!("{key} counts {count}"), || async {
            let hash = redis.hash(key).await.unwrap();
            (hash.get("count").map(String::as_str) == Some(count)).then_some(hash)
        })
        .await
    }

    #[actix::test]
    async fn what_was_measured_is_added_to_its_operation_s_hash() {
        let server = TestRedis::start();
        let (redis, metrics) = (server.redis(), metrics());
        let _flusher = MetricsFlusher::new(server.redis(), metrics.clone()).start();
        let key = redis.keys().metrics("worker");
        let number =
            |hash: &HashMap<String, String>, field: &str| -> f64 { hash[field].parse().unwrap() };
        metrics.record(Operation::Worker, Duration::from_millis(30));
        let hash = flushed(&redis, &key, "1").await;
        let read = ["sum", "max", "bucket_ms", "b0", "b1", "over"].map(|f| number(&hash, f));
        assert_eq!(read, [30.0, 30.0, 100.0, 1.0, 0.0, 0.0]);
        // Added to what the hash holds: the count and the sum grow, the max is the largest.
        metrics.record(Operation::Worker, Duration::from_millis(250));
        metrics.record(Operation::Worker, Duration::from_millis(1500));
        metrics.record(Operation::Worker, Duration::from_millis(5));
        let hash = flushed(&redis, &key, "4").await;
        let read = ["sum", "max", "b0", "b2", "over"].map(|f| number(&hash, f));
        assert_eq!(read, [1785.0, 1500.0, 2.0, 1.0, 1.0]);
        // A later, smaller maximum does not lower it.
        metrics.record(Operation::Worker, Duration::from_millis(10));
        let hash = flushed(&redis, &key, "5").await;
        assert_eq!((number(&hash, "max"), number(&hash, "b0")), (1500.0, 3.0));
        // Nothing measured, nothing written.
        let others = ["gateway", "mover", "proxy", "kvs"].map(|op| redis.keys().metrics(op));
        for key in others {
            assert!(redis.hash(&key).await.unwrap().is_empty(), "{key}");
        }
    }
}
