//! `RecentList`: the latest requests the server received, newest first, in Redis.
//!
//! The visits are a sorted set scored by when each arrived (microseconds of the clock of the
//! host it arrived at), so visits written late, together, by another thread or instance still
//! take their place by time.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::{
    Actor, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseFuture, WrapFuture,
};
use redis_async::resp::RespValue;
use redis_async::resp_array;

use crate::error::ActorError;
use crate::redis::Redis;

/// KEYS[1] the visits; ARGV[1] how many to keep, then score, member pairs. Adds the visits
/// and keeps the newest, as one atomic step.
const ADD_AND_TRIM: &str = "redis.call('ZADD', KEYS[1], unpack(ARGV, 2)) \
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[1]) - 1) return 1";

/// Record one visit, e.g. `"GET /kvs/foo"`. Fire and forget: send it with `do_send`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RecordVisit {
    pub visit: String,
}

/// The latest visits, newest first.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<String>, ActorError>")]
pub struct RecentVisits {}

/// How long a visit may wait to be written with the others: `/recent` lags by about this.
/// Written at once, an idle thread paid a Redis round trip per request: the hello route measured
/// 0.64 of a bare actix-web server so, 0.81 with this (docs/benchmarks.md).
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Records visits without ever delaying the request: visits wait in a small buffer, written
/// together [`FLUSH_EVERY`] after the first of them arrived (later still while a write is under
/// way). Only the newest `size` can matter, so the buffer never holds more; with Redis down,
/// visits are dropped (the outage is logged by the Redis layer, once).
pub struct RecentList {
    redis: Redis,
    size: usize,
    /// Sets this actor's visits apart from every other's in the sorted set, with `counted`.
    id: String,
    counted: u64,
    pending: VisitBuffer,
    writing: bool,
    /// A flush is due: one timer at a time.
    scheduled: bool,
}

/// Visits not yet written, oldest first, never more than the list can show.
struct VisitBuffer {
    visits: VecDeque<Visit>,
    cap: usize,
}

/// A visit and when it arrived, as the sorted set keeps it.
struct Visit {
    /// Microseconds since the Unix epoch: exact as a Redis score (a double) until 2255.
    arrived: u64,
    /// Unique: the recording actor's id, a count, then the visit (`GET /kvs/foo`).
    member: String,
}

impl VisitBuffer {
    fn new(cap: usize) -> Self {
        Self {
            visits: VecDeque::with_capacity(cap),
            cap,
        }
    }

    fn push(&mut self, visit: Visit) {
        if self.visits.len() == self.cap {
            self.visits.pop_front();
        }
        self.visits.push_back(visit);
    }

    fn take(&mut self) -> impl Iterator<Item = Visit> + '_ {
        self.visits.drain(..)
    }

    fn is_empty(&self) -> bool {
        self.visits.is_empty()
    }
}

impl RecentList {
    /// `size` is how many visits the list keeps (at least one).
    pub fn new(redis: Redis, size: usize) -> Self {
        let size = size.max(1);
        Self {
            redis,
            size,
            id: crate::random_id(),
            counted: 0,
            pending: VisitBuffer::new(size),
            writing: false,
            scheduled: false,
        }
    }

    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if self.scheduled || self.pending.is_empty() {
            return;
        }
        self.scheduled = true;
        ctx.run_later(FLUSH_EVERY, |actor, ctx| {
            actor.scheduled = false;
            actor.flush(ctx);
        });
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.writing || self.pending.is_empty() {
            return;
        }
        self.writing = true;
        let mut args: Vec<RespValue> = vec![
            "EVAL".into(),
            ADD_AND_TRIM.into(),
            "1".into(),
            self.redis.keys().recent_visits().into(),
            self.size.to_string().into(),
        ];
        for visit in self.pending.take() {
            args.extend([visit.arrived.to_string().into(), visit.member.into()]);
        }
        let redis = self.redis.clone();
        let write = async move { redis.command::<RespValue>(RespValue::Array(args)).await };
        ctx.spawn(write.into_actor(self).map(|result, actor, ctx| {
            if let Err(err) = result {
                log::debug!("visits not recorded: {err}");
            }
            actor.writing = false;
            actor.schedule_flush(ctx);
        }));
    }
}

impl Actor for RecentList {
    type Context = Context<Self>;
}

impl Handler<RecordVisit> for RecentList {
    type Result = ();

    fn handle(&mut self, msg: RecordVisit, ctx: &mut Context<Self>) {
        let arrived = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_micros() as u64);
        self.counted += 1;
        let member = format!("{}-{:x} {}", self.id, self.counted, msg.visit);
        self.pending.push(Visit { arrived, member });
        self.schedule_flush(ctx);
    }
}

impl Handler<RecentVisits> for RecentList {
    type Result = ResponseFuture<Result<Vec<String>, ActorError>>;

    fn handle(&mut self, _: RecentVisits, _: &mut Context<Self>) -> Self::Result {
        let redis = self.redis.clone();
        let last = (self.size - 1).to_string();
        let command = resp_array!["ZREVRANGE", redis.keys().recent_visits(), "0", last];
        Box::pin(async move {
            let members: Vec<String> = redis.command(command).await?;
            Ok(members
                .into_iter()
                .map(|member| match member.split_once(' ') {
                    Some((_, visit)) => visit.to_owned(),
                    None => member,
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::RedisConfig;

    #[test]
    fn the_buffer_keeps_only_the_newest_visits_in_order() {
        let mut buffer = VisitBuffer::new(3);
        for i in 0..10 {
            buffer.push(Visit {
                arrived: i,
                member: format!("GET /{i}"),
            });
        }
        let kept: Vec<String> = buffer.take().map(|visit| visit.member).collect();
        assert_eq!(kept, ["GET /7", "GET /8", "GET /9"]);
        assert!(buffer.is_empty());
    }

    #[actix::test]
    async fn recording_with_redis_unreachable_neither_blocks_nor_fails() {
        // Port 1: nothing listens, every write fails at once.
        let redis = Redis::new(RedisConfig::from_url("redis://127.0.0.1:1", "t:").unwrap());
        let list = RecentList::new(redis, 5).start();
        for i in 0..1000 {
            list.do_send(RecordVisit {
                visit: format!("GET /{i}"),
            });
        }
        let answer = list.send(RecentVisits {}).await.unwrap();
        assert!(matches!(answer, Err(ActorError::RedisUnavailable(_))));
    }
}
