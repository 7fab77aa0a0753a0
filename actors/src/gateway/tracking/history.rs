//! [`MessageLog`]: one tracked message's history, found by its id or by its xid, for
//! `GET /messages/<id>` and `GET /messages?xid=<xid>`.

use std::collections::HashMap;

use actix::prelude::*;
use redis_async::resp_array;
use serde::Serialize;

use crate::error::ActorError;
use crate::redis::Redis;

/// Which message: by its id, or by its xid (a client's `X-Request-Id`, or the id itself when
/// the client sent none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageRef {
    Id(u64),
    Xid(String),
}

/// A message's history; `None` when there is no such message (never, or expired).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<MessageHistory>, ActorError>")]
pub struct FindMessage(pub MessageRef);

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Queued or being handled, within its deadline as far as the monitor has looked.
    Pending,
    Answered,
    /// Past its deadline unanswered, as the monitor found.
    Timeout,
}

/// What the message's hash holds, times in Unix milliseconds (Redis's clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageHistory {
    pub id: u64,
    pub xid: String,
    pub state: State,
    /// When the gateway queued it.
    pub timestamp: Option<u64>,
    pub deadline: Option<u64>,
    /// The queue it went to, and the gateway that queued it.
    pub queue: Option<String>,
    pub gateway: Option<String>,
    /// When a worker answered it, with what status, and which worker.
    pub done: Option<u64>,
    pub status: Option<u16>,
    pub service: Option<String>,
}

impl MessageHistory {
    /// From a hash's fields; `None` for an empty one (no such key).
    fn from_fields(id: u64, mut fields: HashMap<String, String>) -> Option<Self> {
        if fields.is_empty() {
            return None;
        }
        fn number<T: std::str::FromStr>(value: Option<String>) -> Option<T> {
            value.and_then(|v| v.parse().ok())
        }
        let status_field = fields.remove("status");
        let done = number(fields.remove("done"));
        let state = match (done, status_field.as_deref()) {
            (Some(_), _) => State::Answered,
            (None, Some("timeout")) => State::Timeout,
            (None, _) => State::Pending,
        };
        Some(Self {
            id,
            xid: fields.remove("xid").unwrap_or_else(|| id.to_string()),
            state,
            timestamp: number(fields.remove("timestamp")),
            deadline: number(fields.remove("deadline")),
            queue: fields.remove("queue"),
            gateway: fields.remove("gateway"),
            done,
            status: number(status_field),
            service: fields.remove("service"),
        })
    }
}

/// Reads tracked messages.
pub struct MessageLog {
    redis: Redis,
}

impl MessageLog {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

impl Actor for MessageLog {
    type Context = Context<Self>;
}

impl Handler<FindMessage> for MessageLog {
    type Result = ResponseFuture<Result<Option<MessageHistory>, ActorError>>;

    fn handle(&mut self, FindMessage(by): FindMessage, _: &mut Self::Context) -> Self::Result {
        let redis = self.redis.clone();
        Box::pin(async move {
            match by {
                MessageRef::Id(id) => read(&redis, id).await,
                MessageRef::Xid(xid) => {
                    let key = format!("{}{xid}", redis.keys().tracked_xids());
                    let named: Option<String> = redis.command(resp_array!["GET", key]).await?;
                    if let Some(id) = named.and_then(|id| id.parse().ok()) {
                        return read(&redis, id).await;
                    }
                    // No client gave it: a message without an X-Request-Id has its id as xid.
                    let Ok(id) = xid.parse::<u64>() else {
                        return Ok(None);
                    };
                    let found = read(&redis, id).await?;
                    Ok(found.filter(|history| history.xid == xid))
                }
            }
        })
    }
}

async fn read(redis: &Redis, id: u64) -> Result<Option<MessageHistory>, ActorError> {
    let fields = redis.hash(&redis.keys().tracked_message(id)).await?;
    Ok(MessageHistory::from_fields(id, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_hash_reads_as_its_history_in_each_state() {
        assert_eq!(MessageHistory::from_fields(1, HashMap::new()), None);
        let queued = [("timestamp", "10"), ("xid", "a"), ("deadline", "20")];
        let pending = MessageHistory::from_fields(1, fields(&queued)).unwrap();
        assert_eq!(
            (pending.state, pending.deadline),
            (State::Pending, Some(20))
        );
        let timed_out = fields(&[("deadline", "20"), ("status", "timeout")]);
        let timed_out = MessageHistory::from_fields(2, timed_out).unwrap();
        assert_eq!((timed_out.state, timed_out.status), (State::Timeout, None));
        assert_eq!(timed_out.xid, "2");
        let answered = fields(&[("done", "15"), ("status", "200"), ("service", "w1")]);
        let answered = MessageHistory::from_fields(3, answered).unwrap();
        assert_eq!(
            (answered.state, answered.status, answered.service.as_deref()),
            (State::Answered, Some(200), Some("w1"))
        );
    }
}
