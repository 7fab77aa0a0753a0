//! A gateway's push: a batch of requests onto one queue in one script, as many as the queue has
//! room for, tracked ([`super::tracking`]) when `MESSAGE_TRACKING` is on.

use redis_async::resp::RespValue;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::scripts::PUSH_WITHIN_BOUND;
use super::tracking::{Tracking, PUSH_TRACKED, TRACK, UNTRACK};
use crate::error::ActorError;
use crate::redis::{eval, Redis, COMMAND_TIMEOUT};

/// A request waiting to be pushed, and who is told how that went: its tracked id when it was
/// tracked.
pub(super) struct Outgoing {
    pub message: String,
    /// The client's `X-Request-Id`.
    pub xid: Option<String>,
    pub queued: oneshot::Sender<Result<Option<u64>, ActorError>>,
}

/// What a tracked push writes beside the messages.
#[derive(Clone)]
pub(super) struct TrackedPush {
    pub tracking: Tracking,
    pub timeout_ms: u64,
    /// The gateway's id, in each message's hash.
    pub gateway: String,
}

/// One script: as many of `batch` as `queue` has room for, in order.
pub(super) async fn push(
    redis: Redis,
    queue: String,
    batch: Vec<Outgoing>,
    queue_max: usize,
    tracked: Option<TrackedPush>,
) {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let mut args = Vec::with_capacity(7 + 2 * batch.len());
    args.push(RespValue::from(queue_max.to_string()));
    let mut told = Vec::with_capacity(batch.len());
    let pushed: Result<(usize, Option<u64>), ActorError> = match &tracked {
        None => {
            for outgoing in batch {
                args.push(RespValue::BulkString(outgoing.message.into_bytes()));
                told.push(outgoing.queued);
            }
            let queue = [queue];
            let script = redis.eval_by(deadline, PUSH_WITHIN_BOUND, &queue, args);
            script.await.map(|count: usize| (count, None))
        }
        Some(tracked) => {
            let keys = redis.keys();
            let kept_ms = tracked.tracking.kept.as_millis().to_string();
            args.extend(
                [
                    keys.tracked_messages(),
                    keys.tracked_xids(),
                    kept_ms,
                    tracked.timeout_ms.to_string(),
                    queue.clone(),
                    tracked.gateway.clone(),
                ]
                .map(RespValue::from),
            );
            for outgoing in batch {
                args.push(RespValue::BulkString(outgoing.message.into_bytes()));
                args.push(RespValue::from(outgoing.xid.unwrap_or_default()));
                told.push(outgoing.queued);
            }
            let counter = keys.tracked_seq();
            if redis.co_located(&[&queue, &counter]) {
                let queue_and_counter = [queue, counter];
                let script = redis.eval_by(deadline, PUSH_TRACKED, &queue_and_counter, args);
                script
                    .await
                    .map(|(count, first): (usize, u64)| (count, Some(first)))
            } else {
                push_tracked_apart(&redis, deadline, queue, counter, queue_max, args).await
            }
        }
    };
    for (n, queued) in told.into_iter().enumerate() {
        let _ = queued.send(match &pushed {
            Ok((count, first)) if n < *count => Ok(first.map(|first| first + n as u64)),
            Ok(_) => Err(ActorError::RequestQueueFull),
            Err(err) => Err(err.clone()),
        });
    }
}

/// [`PUSH_TRACKED`] in steps, where a cluster keeps the queue apart from tracking: every
/// message tracked, then as many pushed as the queue has room for, then the others' hashes
/// deleted. A gateway that dies between the steps leaves hashes of requests never queued:
/// the monitor counts them as timeouts, and their clients got no answer.
async fn push_tracked_apart(
    redis: &Redis,
    deadline: Instant,
    queue: String,
    counter: String,
    queue_max: usize,
    args: Vec<RespValue>,
) -> Result<(usize, Option<u64>), ActorError> {
    let hashes = redis.keys().tracked_messages();
    let counter = [counter];
    let mut tracked: Vec<RespValue> = redis.eval_by(deadline, TRACK, &counter, args).await?;
    if tracked.is_empty() {
        return Ok((0, None));
    }
    let first: u64 = match tracked.remove(0) {
        RespValue::Integer(first) => u64::try_from(first).unwrap_or(0),
        _ => 0,
    };
    let mut push = vec![RespValue::from(queue_max.to_string())];
    let count = tracked.len();
    push.extend(tracked);
    let pushed: usize = redis
        .eval_by(deadline, PUSH_WITHIN_BOUND, &[queue], push)
        .await?;
    if pushed < count {
        let mut refused = vec![hashes];
        refused.extend((pushed..count).map(|n| (first + n as u64).to_string()));
        // The pushes stand whatever happens here: a hash left is counted as a timeout.
        if let Err(err) = redis
            .command::<i64>(eval(UNTRACK, &counter, &refused))
            .await
        {
            log::debug!("{} refused request(s) left tracked: {err}", count - pushed);
        }
    }
    Ok((pushed, Some(first)))
}
