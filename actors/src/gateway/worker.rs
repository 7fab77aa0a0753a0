//! [`Worker`]: takes requests from a queue reliably and answers them with a [`Job`].
//!
//! A request is moved to the worker's busy list as it is taken (`BLMOVE`, or a script that
//! moves several at once under load), and leaves it only in the script that pushes its outcome:
//! a worker that dies leaves its requests there for [`super::registry::WorkerRegistry`] to put
//! back. Outcomes are pushed as they finish, those finished together in one script.

use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use redis_async::resp::RespValue;
use redis_async::resp_array;
use tokio::sync::watch;
use tokio::time::Instant;

use super::message::GatewayRequest;
use crate::error::ActorError;
use crate::redis::{busy_list, Redis, COMMAND_TIMEOUT};

/// How long a `BLMOVE` blocks: also how soon a stopping worker notices.
const BLOCK: Duration = Duration::from_secs(1);

/// After Redis failed, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// How long a reply list outlives its last response: a gateway that died leaves nothing behind
/// for long.
pub const REPLY_LIST_LIFETIME_MS: u64 = 60_000;

/// Moves up to ARGV[1] requests from the right (oldest) end of KEYS[1] to the busy list KEYS[2],
/// in three commands whatever their number (a command run by a script costs several times one
/// sent by a client); answers them.
const TAKE: &str = "local taken = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1) \
    if #taken == 0 then return taken end \
    redis.call('LTRIM', KEYS[1], 0, -#taken - 1) \
    redis.call('RPUSH', KEYS[2], unpack(taken)) \
    return taken";

/// Pushes the outcomes: one `LPUSH` per destination, in the order given, then its expiry.
/// Outcome i is ARGV[first + 2(i-1)] for KEYS[i + 1], its expiry in ms (0 for none) the next
/// argument; an empty outcome pushes nothing.
const PUSH_OUTCOMES: &str = "local function push_outcomes(first) \
      local order, by_key, expire = {}, {}, {} \
      for i = 2, #KEYS do \
        local n = first + (i - 2) * 2 \
        local key = KEYS[i] \
        if ARGV[n] ~= '' then \
          if not by_key[key] then by_key[key] = {} order[#order + 1] = key end \
          table.insert(by_key[key], ARGV[n]) \
        end \
        if ARGV[n + 1] ~= '0' then expire[key] = ARGV[n + 1] end \
      end \
      for _, key in ipairs(order) do redis.call('LPUSH', key, unpack(by_key[key])) end \
      for key, ms in pairs(expire) do redis.call('PEXPIRE', key, ms) end \
    end ";

/// The outcomes (from ARGV[#KEYS]) of the requests ARGV[1 .. #KEYS - 1], removed from the busy
/// list KEYS[1] one by one.
const FINISH_SOME: &str = "for i = 1, #KEYS - 1 do redis.call('LREM', KEYS[1], 1, ARGV[i]) end \
    push_outcomes(#KEYS) return #KEYS - 1";

/// The outcomes (from ARGV[1]) of every request the busy list KEYS[1] holds, the list deleted
/// whole rather than searched for each (under load, the common case).
const FINISH_ALL: &str = "redis.call('DEL', KEYS[1]) push_outcomes(1) return #KEYS - 1";

/// What a worker does with a request.
pub trait Job {
    /// Where to push what, for `request` (whose message is `raw`).
    fn handle(&self, raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome>;
}

/// What is pushed, and where, once a request is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// A full Redis key.
    pub destination: String,
    pub message: Vec<u8>,
    /// Set on the destination after the push (a reply list, never a queue).
    pub expire_ms: Option<u64>,
}

/// A request done with: its outcome, or none (past its deadline, or not a request at all).
struct Finished {
    raw: Rc<str>,
    outcome: Option<Outcome>,
}

/// Stops taking requests; answers once those taken are finished and pushed (or Redis failed).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopTaking;

pub struct Worker {
    taker: Option<Taker>,
    stopping: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

/// The loop's own state, moved into it when the worker starts.
struct Taker {
    redis: Redis,
    queue: String,
    busy: String,
    job: Rc<dyn Job>,
    most_per_take: usize,
    registered: watch::Receiver<bool>,
}

impl Worker {
    /// Takes from `queue` (a full key) as `worker_id`, up to `most_per_take` at once, once
    /// `registered` turns true (a busy list with no registration would be recovered from
    /// under it). `redis` must be this worker's own: it blocks.
    pub fn new(
        redis: Redis,
        queue: String,
        worker_id: &str,
        job: Rc<dyn Job>,
        most_per_take: usize,
        registered: watch::Receiver<bool>,
    ) -> Self {
        let (stopping, _) = watch::channel(false);
        let (_, stopped) = watch::channel(false);
        Self {
            taker: Some(Taker {
                busy: busy_list(&queue, worker_id),
                redis,
                queue,
                job,
                most_per_take,
                registered,
            }),
            stopping,
            stopped,
        }
    }
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(taker) = self.taker.take() else {
            return;
        };
        let (done, stopped) = watch::channel(false);
        self.stopped = stopped;
        let stopping = self.stopping.subscribe();
        ctx.spawn(fut::wrap_future(async move {
            taker.run(stopping).await;
            let _ = done.send(true);
        }));
    }
}

impl Handler<StopTaking> for Worker {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopTaking, _: &mut Self::Context) -> Self::Result {
        let _ = self.stopping.send(true);
        let mut stopped = self.stopped.clone();
        Box::pin(async move {
            let _ = stopped.wait_for(|done| *done).await;
        })
    }
}

impl Taker {
    async fn run(self, mut stopping: watch::Receiver<bool>) {
        let mut registered = self.registered.clone();
        tokio::select! {
            _ = registered.wait_for(|done| *done) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let mut unpushed: Vec<Finished> = Vec::new();
        // Under load a script takes several at once; when it finds none, a blocking move
        // waits for the next.
        let mut queue_was_empty = true;
        while !*stopping.borrow() {
            let taken = if queue_was_empty {
                self.take_blocking().await
            } else {
                self.take_several().await
            };
            let taken = match taken {
                Ok(taken) => taken,
                Err(_) => {
                    // Redis's outage is logged by its handle.
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            queue_was_empty = taken.is_empty();
            let mut handling = FuturesUnordered::new();
            for raw in taken {
                match serde_json::from_str::<GatewayRequest>(&raw) {
                    Ok(request) if request.is_past_deadline() => {
                        log::debug!("request {:?} dropped: past its deadline", request.id);
                        unpushed.push(Finished { raw, outcome: None });
                    }
                    Ok(request) => {
                        let job = Rc::clone(&self.job);
                        handling.push(async move {
                            let outcome = job.handle(Rc::clone(&raw), request).await;
                            Finished {
                                raw,
                                outcome: Some(outcome),
                            }
                        });
                    }
                    Err(err) => {
                        log::warn!(
                            "a message on {} is not a request, dropped: {err}",
                            self.queue
                        );
                        unpushed.push(Finished { raw, outcome: None });
                    }
                }
            }
            loop {
                // With nothing in hand, the busy list holds exactly what is finished.
                let everything = handling.is_empty();
                if !unpushed.is_empty() && self.finish(&unpushed, everything).await.is_ok() {
                    unpushed.clear();
                }
                let Some(first) = handling.next().await else {
                    break;
                };
                unpushed.push(first);
                while let Some(Some(next)) = handling.next().now_or_never() {
                    unpushed.push(next);
                }
            }
        }
        if !unpushed.is_empty() {
            // Left in the busy list if this fails too: put back once this worker lapses.
            let _ = self.finish(&unpushed, true).await;
        }
    }

    async fn take_several(&self) -> Result<Vec<Rc<str>>, ActorError> {
        let take = crate::redis::eval(
            TAKE,
            &[self.queue.clone(), self.busy.clone()],
            &[self.most_per_take.to_string()],
        );
        let taken: Vec<String> = self.redis.command(take).await?;
        Ok(taken.into_iter().map(Rc::from).collect())
    }

    async fn take_blocking(&self) -> Result<Vec<Rc<str>>, ActorError> {
        let block = BLOCK.as_secs().to_string();
        let take = resp_array![
            "BLMOVE",
            self.queue.as_str(),
            self.busy.as_str(),
            "RIGHT",
            "LEFT",
            block.as_str()
        ];
        let deadline = Instant::now() + BLOCK + COMMAND_TIMEOUT;
        let taken: Option<String> = self.redis.command_by(deadline, take).await?;
        Ok(taken.into_iter().map(Rc::from).collect())
    }

    /// Pushes the outcomes and removes their requests from the busy list, in one script;
    /// `everything` when they are all the busy list holds.
    async fn finish(&self, finished: &[Finished], everything: bool) -> Result<(), ActorError> {
        let mut keys = Vec::with_capacity(1 + finished.len());
        keys.push(self.busy.clone());
        let mut args = Vec::with_capacity(3 * finished.len());
        if !everything {
            args.extend(finished.iter().map(|done| RespValue::from(&*done.raw)));
        }
        for done in finished {
            match &done.outcome {
                Some(outcome) => {
                    keys.push(outcome.destination.clone());
                    args.push(RespValue::BulkString(outcome.message.clone()));
                    args.push(RespValue::from(outcome.expire_ms.unwrap_or(0).to_string()));
                }
                None => {
                    keys.push(self.busy.clone());
                    args.extend([RespValue::from(""), RespValue::from("0")]);
                }
            }
        }
        let script = if everything {
            [PUSH_OUTCOMES, FINISH_ALL].concat()
        } else {
            [PUSH_OUTCOMES, FINISH_SOME].concat()
        };
        let mut command = vec![
            RespValue::from("EVAL"),
            RespValue::from(script),
            RespValue::from(keys.len().to_string()),
        ];
        command.extend(keys.into_iter().map(RespValue::from));
        command.extend(args);
        let _: i64 = self.redis.command(RespValue::Array(command)).await?;
        Ok(())
    }
}
