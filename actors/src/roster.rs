//! [`TakerRoster`]: the heartbeat of this process's takers (gateway workers, movers, deployers)
//! in `<prefix>workers`, and the recovery of what dead ones had taken.
//!
//! Apart from the server registry: a worker is not an app server and never appears in
//! `/listservers`. Every heartbeat, one script renews this process's registrations and puts the
//! busy lists of lapsed workers back on the queues this process serves. Every
//! [`SCAN_EVERY`] heartbeats, the busy lists of those queues whose worker has no live
//! registration at all (never registered, or long gone) are found with `SCAN` and put back the
//! same way.

use std::time::Duration;

use actix::prelude::*;
use redis_async::resp_array;
use tokio::sync::watch;

use crate::error::ActorError;
use crate::heartbeat::{self, Beat, FirstBeat};
use crate::redis::{busy_lists_pattern, eval, with_now, Redis};

/// Heartbeats between two scans for busy lists nobody registered.
pub const SCAN_EVERY: u32 = 10;

/// Keys one `SCAN` call looks at, and calls per scan: a big keyspace is covered over several
/// scans rather than blocking Redis.
const SCAN_COUNT: &str = "1000";
const SCAN_CALLS: usize = 20;

/// KEYS[1] the registrations, KEYS[2..] the queues served; ARGV[1] the lifetime in ms,
/// ARGV[2..] this process's worker ids. Renews those, then moves the busy lists (on the queues
/// served) of up to 100 lapsed workers back onto their queue, oldest request to be taken
/// first, and forgets them. Answers how many requests it put back.
const BEAT: &str = with_now!(
    "for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end \
     local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100) \
     local moved = 0 \
     for _, id in ipairs(lapsed) do \
       for q = 2, #KEYS do \
         local busy = KEYS[q] .. ':busy:' .. id \
         while redis.call('LMOVE', busy, KEYS[q], 'LEFT', 'RIGHT') do moved = moved + 1 end \
       end \
       redis.call('ZREM', KEYS[1], id) \
     end return moved"
);

/// KEYS[1] a busy list, KEYS[2] its queue, KEYS[3] the registrations; ARGV[1] its worker's id.
/// Puts the busy list back unless that worker is registered and live.
const RECOVER_ORPHAN: &str = with_now!(
    "local lapses = redis.call('ZSCORE', KEYS[3], ARGV[1]) \
     if lapses and tonumber(lapses) > now then return 0 end \
     local moved = 0 \
     while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do moved = moved + 1 end \
     return moved"
);

/// Removes this process's registrations (after its workers stopped).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeregisterTakers;

pub struct TakerRoster {
    redis: Redis,
    worker_ids: Vec<String>,
    /// Full keys.
    queues: Vec<String>,
    heartbeat: Duration,
    registered: watch::Sender<bool>,
    beats: u32,
    /// Where each queue's scan goes on: a big keyspace is covered over several heartbeats.
    cursors: Vec<u64>,
}

impl TakerRoster {
    /// `registered` turns true at the first heartbeat Redis took.
    pub fn new(
        redis: Redis,
        worker_ids: Vec<String>,
        queues: Vec<String>,
        heartbeat: Duration,
        registered: watch::Sender<bool>,
    ) -> Self {
        let cursors = vec![0; queues.len()];
        Self {
            redis,
            worker_ids,
            queues,
            heartbeat,
            registered,
            beats: 0,
            cursors,
        }
    }

    fn beat(&mut self) -> Beat<Self> {
        let scan = self.beats.is_multiple_of(SCAN_EVERY);
        self.beats = self.beats.wrapping_add(1);
        let redis = self.redis.clone();
        let mut keys = vec![redis.keys().workers()];
        keys.extend(self.queues.iter().cloned());
        let mut args = vec![(3 * self.heartbeat.as_millis()).to_string()];
        args.extend(self.worker_ids.iter().cloned());
        let queues = self.queues.clone();
        let cursors = self.cursors.clone();
        let work = async move {
            let moved: i64 = redis.command(eval(BEAT, &keys, &args)).await?;
            if moved > 0 {
                log::warn!("{moved} requests of lapsed workers put back on their queues");
            }
            let mut next_cursors = cursors.clone();
            if scan {
                for (n, queue) in queues.iter().enumerate() {
                    next_cursors[n] = recover_orphans(&redis, queue, cursors[n]).await?;
                }
            }
            Ok::<_, ActorError>(next_cursors)
        };
        Box::pin(fut::wrap_future(work).map(|result, act: &mut Self, _| {
            match result {
                Ok(cursors) => {
                    act.cursors = cursors;
                    let _ = act
                        .registered
                        .send_if_modified(|done| !std::mem::replace(done, true));
                }
                // Redis's outage is logged by its handle; the next heartbeat tries again.
                Err(err) => log::debug!("workers' heartbeat failed: {err}"),
            }
        }))
    }
}

/// Scans for busy lists of `queue` from `cursor`, puts back those of workers with no live
/// registration, and answers where the scan goes on next time (0: it went round).
async fn recover_orphans(redis: &Redis, queue: &str, mut cursor: u64) -> Result<u64, ActorError> {
    let pattern = busy_lists_pattern(queue);
    let workers = redis.keys().workers();
    for _ in 0..SCAN_CALLS {
        let cursor_arg = cursor.to_string();
        let scan = resp_array![
            "SCAN",
            cursor_arg.as_str(),
            "MATCH",
            pattern.as_str(),
            "COUNT",
            SCAN_COUNT,
            "TYPE",
            "list"
        ];
        let (next, found): (String, Vec<String>) = redis.command(scan).await?;
        for busy in found {
            let Some(worker_id) = busy.strip_prefix(&format!("{queue}:busy:")) else {
                continue;
            };
            let keys = [busy.clone(), queue.to_owned(), workers.clone()];
            let moved: i64 = redis
                .command(eval(RECOVER_ORPHAN, &keys, &[worker_id.to_owned()]))
                .await?;
            if moved > 0 {
                log::warn!(
                    "{moved} requests of unregistered worker {worker_id:?} put back on {queue}"
                );
            }
        }
        cursor = next.parse().unwrap_or(0);
        if cursor == 0 {
            break;
        }
    }
    Ok(cursor)
}

impl Actor for TakerRoster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        heartbeat::every(ctx, self.heartbeat, FirstBeat::AtOnce, Self::beat);
    }
}

impl Handler<DeregisterTakers> for TakerRoster {
    type Result = ResponseFuture<Result<(), ActorError>>;

    fn handle(&mut self, _: DeregisterTakers, ctx: &mut Self::Context) -> Self::Result {
        // No more heartbeats: they would register the workers again.
        ctx.stop();
        let redis = self.redis.clone();
        let mut command = vec!["ZREM".into(), redis.keys().workers().into()];
        command.extend(self.worker_ids.iter().map(|id| id.as_str().into()));
        Box::pin(async move {
            let _: i64 = redis
                .command(redis_async::resp::RespValue::Array(command))
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_redis::{cmd, list, until, within, TestRedis};

    #[actix::test]
    async fn registers_puts_back_what_lapsed_and_unregistered_takers_held_and_deregisters() {
        let server = TestRedis::start();
        let redis = server.redis();
        let (queue, workers) = (redis.keys().named("q"), redis.keys().workers());
        let busy = |id: &str| crate::redis::busy_list(&queue, id);
        let setup = [
            resp_array!["RPUSH", queue.as_str(), "x"],
            // Lapsed long ago: what it took goes back, the oldest (right) to be taken first.
            resp_array!["ZADD", workers.as_str(), "1", "dead"],
            resp_array!["RPUSH", busy("dead"), "b", "a"],
            // Never registered: found by the scan.
            resp_array!["RPUSH", busy("ghost"), "g"],
            // Another process's live taker: left alone.
            resp_array!["ZADD", workers.as_str(), "99999999999999", "alive"],
            resp_array!["RPUSH", busy("alive"), "r"],
        ];
        for command in setup {
            let _: i64 = cmd(&redis, command).await;
        }
        let (registered, mut told) = watch::channel(false);
        let ids = vec!["w1".to_owned(), "w2".to_owned()];
        let heartbeat = Duration::from_secs(1);
        let roster = TakerRoster::new(
            server.redis(),
            ids,
            vec![queue.clone()],
            heartbeat,
            registered,
        )
        .start();
        within("registered", told.wait_for(|done| *done))
            .await
            .unwrap();
        // The first heartbeat, scan included, went through before `registered` turned true.
        assert_eq!(list(&redis, &queue).await, ["x", "b", "a", "g"]);
        for id in ["dead", "ghost"] {
            assert!(list(&redis, &busy(id)).await.is_empty(), "{id}");
        }
        assert_eq!(list(&redis, &busy("alive")).await, ["r"]);
        let members = resp_array!["ZRANGE", workers.as_str(), "0", "-1"];
        let registered: Vec<String> = cmd(&redis, members.clone()).await;
        assert_eq!(registered, ["w1", "w2", "alive"]);
        roster.send(DeregisterTakers).await.unwrap().unwrap();
        let left: Vec<String> = cmd(&redis, members).await;
        assert_eq!(left, ["alive"]);
        until("the roster stopped", || async {
            (!roster.connected()).then_some(())
        })
        .await;
    }
}
