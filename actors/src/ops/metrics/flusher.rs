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
