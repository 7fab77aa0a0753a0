//! The queue movers (docs/services.md). [`Mover`] moves messages from one Redis list to others
//! reliably, oldest first: lpush (to one list), mpush (to every list), mbalance (to the
//! shortest); [`vpush`] moves them to a list on another Redis.
//!
//! Under load one script moves up to [`MOST_PER_MOVE`] messages whole: each leaves the input and
//! reaches its outputs in the same atomic step. When the input is empty a blocking `BLMOVE`
//! waits: straight to the output for lpush, else into the mover's pending list, delivered from
//! there by the same script. A mover that dies holding a pending message lapses in
//! `<prefix>workers` (its process's `TakerRoster`) and the message goes back on the input.

pub mod vpush;

use std::time::Duration;

use redis_async::resp::RespValue;
use tokio::sync::watch;

use crate::error::ActorError;
use crate::ops::metrics::{Metrics, Operation};
use crate::redis::{busy_list, eval, Redis};
use crate::run_loop::{until_registered, RefusalLog, Taker};

/// The most messages one script moves.
pub const MOST_PER_MOVE: usize = 64;

/// After Redis failed, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// Where each message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// lpush: onto the one output.
    One(String),
    /// mpush: onto every output.
    All(Vec<String>),
    /// mbalance: onto the output that is shortest at that moment, ties to the first.
    Shortest(Vec<String>),
}

impl Delivery {
    /// lpush, mpush or mbalance.
    pub fn name(&self) -> &'static str {
        match self {
            Self::One(_) => "lpush",
            Self::All(_) => "mpush",
            Self::Shortest(_) => "mbalance",
        }
    }

    pub fn outputs(&self) -> &[String] {
        match self {
            Self::One(output) => std::slice::from_ref(output),
            Self::All(outputs) | Self::Shortest(outputs) => outputs,
        }
    }

    /// The script that moves up to ARGV[1] messages from the right of KEYS[1] onto the outputs
    /// KEYS[2..], oldest first; answers how many it moved. An output of another type refuses
    /// the whole step, nothing taken.
    fn script(&self) -> String {
        let deliver = match self {
            Self::One(_) | Self::All(_) => {
                "for k = 2, #KEYS do redis.call('LPUSH', KEYS[k], unpack(oldest_first)) end"
            }
            Self::Shortest(_) => {
                "local lengths, groups = {}, {} \
                 for k = 2, #KEYS do lengths[k] = redis.call('LLEN', KEYS[k]) groups[k] = {} end \
                 for _, message in ipairs(oldest_first) do \
                   local shortest = 2 \
                   for k = 3, #KEYS do if lengths[k] < lengths[shortest] then shortest = k end end \
                   lengths[shortest] = lengths[shortest] + 1 \
                   table.insert(groups[shortest], message) \
                 end \
                 for k = 2, #KEYS do \
                   if #groups[k] > 0 then redis.call('LPUSH', KEYS[k], unpack(groups[k])) end \
                 end"
            }
        };
        // Every output's type first: Lua takes nothing back, so a push that failed after the
        // trim would lose what was trimmed.
        format!(
            "for k = 2, #KEYS do \
               local kind = redis.call('TYPE', KEYS[k]).ok \
               if kind ~= 'list' and kind ~= 'none' then \
                 return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' holds a ' .. kind .. ', not a list') \
               end \
             end \
             local taken = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1) \
             if #taken == 0 then return 0 end \
             redis.call('LTRIM', KEYS[1], 0, -#taken - 1) \
             local oldest_first = {{}} \
             for i = #taken, 1, -1 do oldest_first[#oldest_first + 1] = taken[i] end \
             {deliver} return #taken"
        )
    }
}

/// Moves from one list to others by its [`Delivery`]; runs as a
/// [`TakerActor`](crate::run_loop::TakerActor).
pub struct Mover {
    redis: Redis,
    input: String,
    delivery: Delivery,
    /// Where a blocking wait puts what it took; `None` for lpush, whose wait is the move.
    pending: Option<String>,
    script: String,
    registered: watch::Receiver<bool>,
    metrics: Metrics,
}

impl Mover {
    /// Moves from `input` (a full key) by `delivery` (full keys) as `mover_id`, once
    /// `registered` turns true. `redis` must be the mover's own: it blocks.
    pub fn new(
        redis: Redis,
        input: String,
        delivery: Delivery,
        mover_id: &str,
        registered: watch::Receiver<bool>,
        metrics: Metrics,
    ) -> Self {
        let pending = match delivery {
            Delivery::One(_) => None,
            Delivery::All(_) | Delivery::Shortest(_) => Some(busy_list(&input, mover_id)),
        };
        Self {
            script: delivery.script(),
            redis,
            input,
            delivery,
            pending,
            registered,
            metrics,
        }
    }
}

impl Taker for Mover {
    async fn run(self, mut stopping: watch::Receiver<bool>) {
        if !until_registered(&self.registered, &mut stopping).await {
            return;
        }
        let mut refusals = RefusalLog::new(format!("mover from {}", self.input), "moves again");
        // A wait leaves what it took in the pending list; so may a failed delivery.
        let mut pending_may_hold = true;
        while !*stopping.borrow() {
            match self.step(&mut pending_may_hold).await {
                Ok(()) => refusals.went_through(),
                // A key of another type, or an outage. A wait that timed out may still have
                // moved a message into the pending list when Redis woke.
                Err(err) => {
                    refusals.failed(&err);
                    pending_may_hold = true;
                    tokio::time::sleep(RETRY_AFTER).await
                }
            }
        }
    }
}

impl Mover {
    /// Moves what the input holds, up to [`MOST_PER_MOVE`]; when it held nothing, waits for
    /// the next message and moves it.
    async fn step(&self, pending_may_hold: &mut bool) -> Result<(), ActorError> {
        // What the pending list holds is older than anything on the input: it goes first.
        if let (Some(pending), true) = (&self.pending, *pending_may_hold) {
            self.move_from(pending).await?;
            *pending_may_hold = false;
        }
        if self.move_from(&self.input).await? > 0 {
            return Ok(());
        }
        let destination = match (&self.pending, &self.delivery) {
            (Some(pending), _) => pending.as_str(),
            (None, Delivery::One(output)) => output.as_str(),
            (None, _) => return Ok(()),
        };
        let took: RespValue = self
            .redis
            .wait_and_move(&self.input, destination)
            .await
            .map_err(|err| match err {
                // Redis's words do not say which key is of another type.
                ActorError::Redis(cause) => {
                    ActorError::Redis(cause.context(format_args!("BLMOVE to {destination}")))
                }
                other => other,
            })?;
        *pending_may_hold = took != RespValue::Nil;
        Ok(())
    }

    /// One script: up to [`MOST_PER_MOVE`] messages from `source` onto the outputs.
    async fn move_from(&self, source: &str) -> Result<usize, ActorError> {
        let mut keys = vec![source.to_owned()];
        keys.extend(self.delivery.outputs().iter().cloned());
        let started = std::time::Instant::now();
        let moved: i64 = self
            .redis
            .command(eval(&self.script, &keys, &[MOST_PER_MOVE.to_string()]))
            .await?;
        let moved = usize::try_from(moved).unwrap_or(0);
        if moved > 0 {
            self.metrics.record(Operation::Mover, started.elapsed());
            self.metrics.count_moved(self.delivery.name(), moved as u64);
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_loop::{StopTaking, TakerActor};
    use crate::test_redis::{list, list_becomes, metrics, push, registered, within, TestRedis};

    struct Moving {
        server: TestRedis,
        redis: Redis,
        input: String,
        mover: actix::Addr<TakerActor<Mover>>,
        _registered: watch::Sender<bool>,
    }

    /// Fills the lists of `before` (named without the prefix; `in` is the input), then starts a
    /// mover from the input by `delivery` of the outputs named.
    async fn start(
        delivery: fn(Vec<String>) -> Delivery,
        outputs: &[&str],
        before: &[(&str, &[&str])],
    ) -> Moving {
        let server = TestRedis::start();
        let (redis, keys) = (server.redis(), server.redis().keys().clone());
        for (name, messages) in before {
            push(&redis, &keys.named(name), messages).await;
        }
        let (input, (keep, on)) = (keys.named("in"), registered());
        let delivery = delivery(outputs.iter().map(|o| keys.named(o)).collect());
        let mover = Mover::new(server.redis(), input.clone(), delivery, "m", on, metrics());
        let mover = mover.start_taking();
        Moving {
            server,
            redis,
            input,
            mover,
            _registered: keep,
        }
    }

    impl Moving {
        /// Waits until the list `name` (without the prefix) holds `expected`, left to right.
        async fn holds(&self, name: &str, expected: &[&str]) {
            let key = format!("{}{name}", self.server.prefix);
            list_becomes(&self.redis, &key, expected).await;
        }

        /// Stops the mover: the input and its pending list are empty.
        async fn stop(self) {
            let stopped = self.mover.send(StopTaking);
            within("StopTaking's answer", stopped).await.unwrap();
            for key in [self.input.clone(), busy_list(&self.input, "m")] {
                assert!(list(&self.redis, &key).await.is_empty(), "{key}");
            }
        }
    }

    #[actix::test]
    async fn lpush_moves_what_waits_and_what_comes_oldest_first() {
        let lpush = |outputs: Vec<String>| Delivery::One(outputs[0].clone());
        let moving = start(lpush, &["out"], &[("in", &["m1", "m2"])]).await;
        moving.holds("out", &["m2", "m1"]).await;
        // Pushed while it waits on the empty input.
        push(&moving.redis, &moving.input, &["m3", "m4"]).await;
        moving.holds("out", &["m4", "m3", "m2", "m1"]).await;
        moving.stop().await;
    }

    #[actix::test]
    async fn mpush_moves_each_message_onto_every_output_oldest_first() {
        let moving = start(Delivery::All, &["a", "b"], &[("in", &["m1", "m2"])]).await;
        moving.holds("b", &["m2", "m1"]).await;
        push(&moving.redis, &moving.input, &["m3", "m4"]).await;
        for output in ["a", "b"] {
            moving.holds(output, &["m4", "m3", "m2", "m1"]).await;
        }
        moving.stop().await;
    }

    #[actix::test]
    async fn mbalance_moves_each_message_onto_the_shortest_output_ties_to_the_first() {
        let before: &[(&str, &[&str])] = &[("a", &["x1", "x2"]), ("in", &["m1", "m2", "m3"])];
        let moving = start(Delivery::Shortest, &["a", "b"], before).await;
        // b, b, then a tie: a.
        moving.holds("a", &["m3", "x2", "x1"]).await;
        moving.holds("b", &["m2", "m1"]).await;
        // One at a time, while it waits: b is the shorter, then a tie.
        push(&moving.redis, &moving.input, &["m4"]).await;
        moving.holds("b", &["m4", "m2", "m1"]).await;
        push(&moving.redis, &moving.input, &["m5"]).await;
        moving.holds("a", &["m5", "m3", "x2", "x1"]).await;
        moving.stop().await;
    }
}
