//! [`MessageMonitor`]: the notes' timeout monitor. Walks the tracked messages in id order from
//! where it last stopped (`message:checked`) and counts each one that was not answered by its
//! deadline: `timeout` in the gateway's metrics hash, its id on `message:timeouts` (the latest
//! 100, for the dashboard), `status` `timeout` on its hash. It stops at the first message still
//! waiting within its deadline, so a message is judged once, after its deadline; any number of
//! monitors may run (one script each time: two never judge the same message).

use std::time::Duration;

use actix::prelude::*;
use redis_async::resp_array;

use crate::error::chain;
use crate::heartbeat::{self, Beat, FirstBeat};
use crate::redis::{eval, with_now, Redis};

/// How often the monitor looks.
const EVERY: Duration = Duration::from_millis(100);

/// The most messages one look walks over: about a millisecond of Redis's time per thousand, so
/// a look holds Redis for a few milliseconds at most, and 30,000 messages a second are kept up
/// with (past that, timeouts are found later, never missed).
const MOST_PER_LOOK: u32 = 3_000;

/// The latest timed-out ids kept for the dashboard.
pub const TIMEOUTS_KEPT: u32 = 100;

/// KEYS[1] the counter, KEYS[2] the cursor, KEYS[3] the latest timeouts, KEYS[4] the
/// gateway's metrics hash (none where a cluster keeps it apart: the caller counts there);
/// ARGV[1] the hashes' key prefix, ARGV[2] the most to look at, ARGV[3] how many timeouts to
/// keep. A message is timed out when it has no answer past its deadline, or an answer after
/// it. Answers how many it found.
const LOOK: &str = with_now!(
    "local last = tonumber(redis.call('GET', KEYS[1]) or '0') \
     local id = tonumber(redis.call('GET', KEYS[2]) or '0') \
     if id > last then id = last end \
     local limit = math.min(last, id + tonumber(ARGV[2])) \
     local found = 0 \
     while id < limit do \
       local key = ARGV[1] .. (id + 1) \
       local f = redis.call('HMGET', key, 'deadline', 'done') \
       if f[1] then \
         local deadline = tonumber(f[1]) \
         if not f[2] and deadline > now then break end \
         if not f[2] or tonumber(f[2]) > deadline then \
           if not f[2] then redis.call('HSET', key, 'status', 'timeout') end \
           redis.call('LPUSH', KEYS[3], id + 1) \
           found = found + 1 \
         end \
       end \
       id = id + 1 \
     end \
     if found > 0 then \
       if KEYS[4] then redis.call('HINCRBY', KEYS[4], 'timeout', found) end \
       redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1) \
     end \
     redis.call('SET', KEYS[2], id) \
     return found"
);

/// Counts tracked messages past their deadline, ten times a second.
pub struct MessageMonitor {
    redis: Redis,
}

impl MessageMonitor {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn look(&mut self) -> Beat<Self> {
        let redis = self.redis.clone();
        let work = async move {
            let keys = redis.keys();
            let metrics = keys.metrics("gateway");
            let mut keys = vec![
                keys.tracked_seq(),
                keys.tracked_checked(),
                keys.tracked_timeouts(),
            ];
            // A cluster keeps the metrics apart: counted after, where a lost answer loses
            // the count of one look.
            let apart = !redis.co_located(&[&keys[0], &metrics]);
            if !apart {
                keys.push(metrics.clone());
            }
            let args = [
                redis.keys().tracked_messages(),
                MOST_PER_LOOK.to_string(),
                TIMEOUTS_KEPT.to_string(),
            ];
            match redis.command::<i64>(eval(LOOK, &keys, &args)).await {
                Ok(0) => {}
                Ok(found) => {
                    log::debug!("{found} message(s) past their deadline unanswered");
                    if apart {
                        let count = found.to_string();
                        let add = resp_array!["HINCRBY", metrics.as_str(), "timeout", count];
                        if let Err(err) = redis.command::<i64>(add).await {
                            log::debug!("{found} timeout(s) not counted: {}", chain(&err));
                        }
                    }
                }
                // Looked at again at the next beat; Redis's outage is logged by its handle.
                Err(err) => log::debug!("messages not looked at: {}", chain(&err)),
            }
        };
        Box::pin(fut::wrap_future(work))
    }
}

impl Actor for MessageMonitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        heartbeat::every(ctx, EVERY, FirstBeat::AfterPeriod, Self::look);
    }
}
