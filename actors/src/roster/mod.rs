//! [`TakerRoster`]: the heartbeat of this process's takers (gateway workers, movers, deployers)
//! in `<prefix>workers`, and the recovery of what dead ones had taken.
//!
//! Apart from the server registry: a worker is not an app server and never appears in
//! `/listservers`. Every heartbeat, one script renews this process's registrations and puts the
//! busy lists of lapsed workers back on the queues this process serves (on a cluster, where
//! those keys are on several nodes, the same in steps: docs/redis-keys.md). Every
//! [`SCAN_EVERY`] heartbeats, the busy lists of those queues whose worker has no live
//! registration at all (never registered, or long gone) are found with `SCAN` and put back the
//! same way.

use std::time::Duration;

use actix::prelude::*;
use redis_async::resp_array;
use tokio::sync::watch;

use crate::error::ActorError;
use crate::heartbeat::{self, Beat, FirstBeat};
use crate::redis::{busy_list, busy_list_owner, busy_lists_patterns, eval, Redis};
use scripts::{BEAT, FORGET_LAPSED, MOVE_BACK, RECOVER_ORPHAN, RENEW};

mod scripts;

/// Heartbeats between two scans for busy lists nobody registered.
pub const SCAN_EVERY: u32 = 10;

/// Keys one `SCAN` call looks at, and calls per scan: a big keyspace is covered over several
/// scans rather than blocking Redis.
const SCAN_COUNT: &str = "1000";
const SCAN_CALLS: usize = 20;

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
    /// Each queue's busy lists' scans, and where each goes on: a big keyspace is covered over
    /// several heartbeats.
    scans: Vec<Scan>,
}

/// A scan for one queue's busy lists under one name ([`busy_lists_patterns`]).
#[derive(Clone)]
struct Scan {
    queue: String,
    pattern: String,
    cursor: u64,
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
        let scans = queues
            .iter()
            .flat_map(|queue| {
                busy_lists_patterns(queue).into_iter().map(|pattern| Scan {
                    queue: queue.clone(),
                    pattern,
                    cursor: 0,
                })
            })
            .collect();
        Self {
            redis,
            worker_ids,
            queues,
            heartbeat,
            registered,
            beats: 0,
            scans,
        }
    }

    fn beat(&mut self) -> Beat<Self> {
        let scan = self.beats.is_multiple_of(SCAN_EVERY);
        self.beats = self.beats.wrapping_add(1);
        let redis = self.redis.clone();
        let lifetime = (3 * self.heartbeat.as_millis()).to_string();
        let worker_ids = self.worker_ids.clone();
        let queues = self.queues.clone();
        let mut scans = self.scans.clone();
        let work = async move {
            let moved = renew_and_put_back(&redis, &lifetime, &worker_ids, &queues).await?;
            if moved > 0 {
                log::warn!("{moved} requests of lapsed workers put back on their queues");
            }
            if scan {
                for scan in &mut scans {
                    scan.cursor = recover_orphans(&redis, scan).await?;
                }
            }
            Ok::<_, ActorError>(scans)
        };
        Box::pin(fut::wrap_future(work).map(|result, act: &mut Self, _| {
            match result {
                Ok(scans) => {
                    act.scans = scans;
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

/// Renews `worker_ids` for `lifetime` ms and puts back the busy lists (on `queues`) of up to
/// 100 lapsed workers: in one script where the keys can be touched together, else in steps.
/// Answers how many requests went back.
async fn renew_and_put_back(
    redis: &Redis,
    lifetime: &str,
    worker_ids: &[String],
    queues: &[String],
) -> Result<i64, ActorError> {
    let workers = redis.keys().workers();
    let mut keys = vec![workers.clone()];
    keys.extend(queues.iter().cloned());
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut args = vec![lifetime.to_owned()];
    if redis.co_located(&key_refs) {
        args.extend(queues.iter().map(|queue| busy_list(queue, "")));
        args.extend(worker_ids.iter().cloned());
        return redis.command(eval(BEAT, &keys, &args)).await;
    }
    // Between the steps a paused worker may renew after its busy list went back: its requests
    // are then handled twice, as when it resumes after the one script (at-least-once).
    args.extend(worker_ids.iter().cloned());
    let lapsed: Vec<String> = redis
        .command(eval(RENEW, std::slice::from_ref(&workers), &args))
        .await?;
    let mut moved = 0;
    for id in &lapsed {
        for queue in queues {
            let pair = [busy_list(queue, id), queue.clone()];
            moved += redis.command::<i64>(eval(MOVE_BACK, &pair, &[])).await?;
        }
    }
    if !lapsed.is_empty() {
        let _: i64 = redis
            .command(eval(FORGET_LAPSED, &[workers], &lapsed))
            .await?;
    }
    Ok(moved)
}

/// Goes on with `scan` for busy lists, on the node that holds its queue, puts back those of
/// workers with no live registration, and answers where it goes on next time (0: it went
/// round).
async fn recover_orphans(redis: &Redis, scan: &Scan) -> Result<u64, ActorError> {
    let Scan {
        queue,
        pattern,
        mut cursor,
    } = scan.clone();
    let workers = redis.keys().workers();
    for _ in 0..SCAN_CALLS {
        let cursor_arg = cursor.to_string();
        let command = resp_array![
            "SCAN",
            cursor_arg.as_str(),
            "MATCH",
            pattern.as_str(),
            "COUNT",
            SCAN_COUNT,
            "TYPE",
            "list"
        ];
        let (next, found): (String, Vec<String>) = redis.command_beside(&queue, command).await?;
        for busy in found {
            let Some(worker_id) = busy_list_owner(&queue, &busy) else {
                continue;
            };
            // A list under the earlier name, in another slot of the same node: a cluster
            // cannot move it in one step, and no taker there could have filled it either.
            if !redis.co_located(&[&busy, &queue]) {
                continue;
            }
            let moved = put_back_orphan(redis, &busy, &queue, &workers, worker_id).await?;
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

/// Puts `busy` back on `queue` unless `worker_id` is registered and live: in one script where
/// the keys can be touched together, else its registration read first.
async fn put_back_orphan(
    redis: &Redis,
    busy: &str,
    queue: &str,
    workers: &str,
    worker_id: &str,
) -> Result<i64, ActorError> {
    let keys = [busy.to_owned(), queue.to_owned(), workers.to_owned()];
    if redis.co_located(&[busy, queue, workers]) {
        return redis
            .command(eval(RECOVER_ORPHAN, &keys, &[worker_id.to_owned()]))
            .await;
    }
    let lapses: Option<String> = redis
        .command(resp_array!["ZSCORE", workers, worker_id])
        .await?;
    // Redis's clock, as the registrations are scored by it.
    let time: Vec<String> = redis.command_beside(workers, resp_array!["TIME"]).await?;
    let now_secs: f64 = time
        .first()
        .and_then(|secs| secs.parse().ok())
        .unwrap_or(0.0);
    let live = lapses
        .and_then(|lapses| lapses.parse::<f64>().ok())
        .is_some_and(|lapses| lapses > now_secs * 1000.0);
    if live {
        return Ok(0);
    }
    redis.command(eval(MOVE_BACK, &keys[..2], &[])).await
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
            // Held by a process of an earlier version, under the name busy lists had then.
            resp_array!["RPUSH", format!("{queue}:busy:earlier"), "e"],
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
        assert_eq!(list(&redis, &queue).await, ["x", "b", "a", "g", "e"]);
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
