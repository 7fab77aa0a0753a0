//! [`Gateway`]: queues each client's request for the workers and hands it the response the
//! dispatcher brings back for its id.
//!
//! One per HTTP worker thread, each with its own Redis connection, so requests never cross
//! threads on their way in; [`GatewayThreads`](super::threads::GatewayThreads) lets the
//! process's one dispatcher find the thread a response is for (its index is part of the
//! request's id). Requests that arrive while
//! a push is under way go together in the next one (one script per queue, many requests), so
//! under load a request costs a fraction of a Redis command.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::join_all;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::message::{unix_millis, GatewayRequest, GatewayResponse};
use super::push::{push, Outgoing, TrackedPush};
use super::routing::RouteTable;
use super::tracking::Tracking;
use crate::error::{ActorError, Cause};
use crate::ops::metrics::{Metrics, Operation};
use crate::redis::Redis;

/// The most requests one push carries (each is one argument of the script).
const MOST_PER_PUSH: usize = 256;

/// What a client's request becomes: everything but the id, the reply list and the deadline,
/// which the gateway adds, and the queue, which the gateway picks by its path.
#[derive(Debug, Message)]
#[rtype(result = "Submitted")]
pub struct Submit {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client's `X-Request-Id` (checked with [`super::tracking::is_xid`]): the message's
    /// xid when it is tracked.
    pub xid: Option<String>,
}

/// How a submitted request went: its tracked id, when it was tracked (whatever came of it
/// after), and the worker's answer or why there is none.
#[derive(Debug)]
pub struct Submitted {
    pub message_id: Option<u64>,
    pub answer: Result<GatewayResponse, ActorError>,
}

impl Submitted {
    /// A request that was never queued, and why.
    fn unqueued(err: ActorError) -> Self {
        Self {
            message_id: None,
            answer: Err(err),
        }
    }
}

/// A response for the request waiting on `id`, or why its worker's answer is unusable.
pub type Delivery = (String, Result<GatewayResponse, ActorError>);

/// Responses the dispatcher read, each for the request waiting on its id.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Deliver(pub Vec<Delivery>);

/// The dispatcher lost its connection: the responses due to the waiting requests may be lost
/// with it, so they are answered now rather than at their timeout.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RepliesUnreachable(pub ActorError);

/// How many requests wait, and how many responses found nobody waiting.
#[derive(Debug, Message)]
#[rtype(result = "GatewayStats")]
pub struct Stats;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayStats {
    pub waiting: usize,
    pub dropped_responses: u64,
}

#[derive(Clone)]
pub struct GatewaySettings {
    /// `GATEWAY_TIMEOUT_MS`.
    pub timeout: Duration,
    /// `GATEWAY_QUEUE_MAX`: a queue holding this many requests takes no more.
    pub queue_max: usize,
    /// Where each round trip's time is counted.
    pub metrics: Metrics,
    /// `GATEWAY_ROUTES`: the queue for a request's path, `GATEWAY_QUEUE` when none matches.
    pub routes: RouteTable,
    /// `MESSAGE_TRACKING`: each request's history kept in Redis.
    pub tracking: Option<Tracking>,
}

type Answer = oneshot::Sender<Result<GatewayResponse, ActorError>>;

pub struct Gateway {
    redis: Redis,
    /// `<gateway id>-<thread>`: the front of every request id it makes.
    id: String,
    reply_to: String,
    settings: GatewaySettings,
    next_request: u64,
    waiting: HashMap<String, Answer>,
    outgoing: HashMap<String, Vec<Outgoing>>,
    pushing: bool,
    dropped_responses: u64,
}

impl Gateway {
    /// `gateway_id` is the process's, unique among those on the Redis, and `thread` this
    /// gateway's index in [`GatewayThreads`](super::threads::GatewayThreads); responses come back on `reply_to`. `redis` should
    /// be this thread's own.
    pub fn new(
        redis: Redis,
        gateway_id: &str,
        thread: usize,
        reply_to: String,
        settings: GatewaySettings,
    ) -> Self {
        Self {
            redis,
            id: format!("{gateway_id}-{thread}"),
            reply_to,
            settings,
            next_request: 0,
            waiting: HashMap::new(),
            outgoing: HashMap::new(),
            pushing: false,
            dropped_responses: 0,
        }
    }

    /// Pushes what is waiting to go, unless a push is under way (then it goes next).
    fn push(&mut self, ctx: &mut Context<Self>) {
        if self.pushing || self.outgoing.is_empty() {
            return;
        }
        self.pushing = true;
        let redis = self.redis.clone();
        let queue_max = self.settings.queue_max;
        let tracked = self.settings.tracking.clone().map(|tracking| TrackedPush {
            tracking,
            timeout_ms: self.settings.timeout.as_millis() as u64,
            gateway: self.id.clone(),
        });
        let batches: Vec<(String, Vec<Outgoing>)> = self.outgoing.drain().collect();
        let pushes = batches.into_iter().flat_map(|(queue, mut batch)| {
            let mut chunks = Vec::new();
            while batch.len() > MOST_PER_PUSH {
                let rest = batch.split_off(MOST_PER_PUSH);
                chunks.push(std::mem::replace(&mut batch, rest));
            }
            chunks.push(batch);
            let (redis, tracked) = (redis.clone(), tracked.clone());
            chunks.into_iter().map(move |chunk| {
                push(
                    redis.clone(),
                    queue.clone(),
                    chunk,
                    queue_max,
                    tracked.clone(),
                )
            })
        });
        let all = join_all(pushes.collect::<Vec<_>>());
        ctx.spawn(fut::wrap_future(all).map(|_, act: &mut Self, ctx| {
            act.pushing = false;
            act.push(ctx);
        }));
    }
}

impl Actor for Gateway {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::size_mailbox_for_a_worker(ctx);
        // A client that gave up (timeout, closed connection) leaves its entry behind.
        ctx.run_interval(Duration::from_secs(1), |act, _| {
            act.waiting.retain(|_, answer| !answer.is_closed());
        });
    }
}

impl Handler<Submit> for Gateway {
    type Result = ResponseFuture<Submitted>;

    fn handle(&mut self, submit: Submit, ctx: &mut Self::Context) -> Self::Result {
        let started = Instant::now();
        let timeout = self.settings.timeout;
        self.next_request += 1;
        let request = GatewayRequest {
            id: format!("{}-{}", self.id, self.next_request),
            method: submit.method,
            path: submit.path,
            query: submit.query,
            headers: submit.headers,
            body: submit.body,
            reply_to: self.reply_to.clone(),
            deadline_ms: unix_millis() + timeout.as_millis() as u64,
            track: None,
        };
        let message = match serde_json::to_string(&request) {
            Ok(message) => message,
            Err(err) => {
                let unqueued = Submitted::unqueued(ActorError::Redis(Cause::new(err)));
                return Box::pin(async move { unqueued });
            }
        };
        let (answer, answered) = oneshot::channel();
        self.waiting.insert(request.id, answer);
        let (queued, pushed) = oneshot::channel();
        let queue = self.settings.routes.queue_for(&request.path).to_owned();
        self.outgoing.entry(queue).or_default().push(Outgoing {
            message,
            xid: submit.xid,
            queued,
        });
        self.push(ctx);
        let metrics = self.settings.metrics.clone();
        Box::pin(async move {
            let message_id = match pushed.await.unwrap_or(Err(ActorError::ShuttingDown)) {
                Ok(message_id) => message_id,
                Err(err) => return Submitted::unqueued(err),
            };
            let answer = match tokio::time::timeout_at(started + timeout, answered).await {
                Ok(Ok(response)) => response,
                Ok(Err(_)) => Err(ActorError::ShuttingDown),
                Err(_) => Err(ActorError::NoWorkerAnswered),
            };
            metrics.record(Operation::Gateway, started.elapsed());
            Submitted { message_id, answer }
        })
    }
}

impl Handler<Deliver> for Gateway {
    type Result = ();

    fn handle(&mut self, Deliver(responses): Deliver, _: &mut Self::Context) {
        for (id, response) in responses {
            let delivered = match self.waiting.remove(&id) {
                Some(answer) => answer.send(response).is_ok(),
                None => false,
            };
            if !delivered {
                // Late (its client timed out), a duplicate, or not one of ours.
                self.dropped_responses += 1;
                log::debug!("response for {id:?} dropped: nobody waits for it");
            }
        }
    }
}

impl Handler<RepliesUnreachable> for Gateway {
    type Result = ();

    fn handle(&mut self, RepliesUnreachable(err): RepliesUnreachable, _: &mut Self::Context) {
        for (_, answer) in self.waiting.drain() {
            let _ = answer.send(Err(err.clone()));
        }
    }
}

impl Handler<Stats> for Gateway {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Self::Context) -> Self::Result {
        MessageResult(GatewayStats {
            waiting: self.waiting.len(),
            dropped_responses: self.dropped_responses,
        })
    }
}

#[cfg(test)]
mod tests;
