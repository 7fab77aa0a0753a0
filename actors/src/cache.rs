//! `Cache`: the self-destructing message of `/set` and `/get`.

use std::time::Duration;

use actix::{Actor, Context, Handler, Message, ResponseFuture};
use redis_async::resp_array;

use crate::error::ActorError;
use crate::redis::Redis;

/// Store the self-destructing message; it expires after the cache's time to live.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, ActorError>")]
pub struct SetMessage {}

/// Read the message; `None` once it has expired or when it was never set.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<String>, ActorError>")]
pub struct GetMessage {}

/// Keeps one message in Redis with an expiry. The state is all in Redis, so any number of
/// `Cache` actors (one per worker thread, in any process sharing the Redis and its prefix)
/// agree.
pub struct Cache {
    redis: Redis,
    ttl: Duration,
}

impl Cache {
    /// `ttl` is whole seconds, at least one (Redis's `EX`).
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self { redis, ttl }
    }

    /// The message tells its own time to live: "... in 10 seconds" with the default.
    pub fn message_text(ttl: Duration) -> String {
        format!(
            "this message will self-destruct in {} seconds",
            ttl.as_secs()
        )
    }
}

impl Actor for Cache {
    type Context = Context<Self>;
}

impl Handler<SetMessage> for Cache {
    type Result = ResponseFuture<Result<String, ActorError>>;

    fn handle(&mut self, _: SetMessage, _: &mut Context<Self>) -> Self::Result {
        let redis = self.redis.clone();
        let text = Self::message_text(self.ttl);
        // One command sets the value and its expiry: no moment without an expiry.
        let command = resp_array![
            "SET",
            redis.keys().message(),
            text.as_str(),
            "EX",
            self.ttl.as_secs().max(1).to_string()
        ];
        Box::pin(async move {
            let _: String = redis.command(command).await?;
            Ok(text)
        })
    }
}

impl Handler<GetMessage> for Cache {
    type Result = ResponseFuture<Result<Option<String>, ActorError>>;

    fn handle(&mut self, _: GetMessage, _: &mut Context<Self>) -> Self::Result {
        let redis = self.redis.clone();
        let command = resp_array!["GET", redis.keys().message()];
        Box::pin(async move { redis.command(command).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::RedisConfig;

    #[test]
    fn the_default_message_is_the_workshops() {
        assert_eq!(
            Cache::message_text(Duration::from_secs(10)),
            "this message will self-destruct in 10 seconds"
        );
    }

    #[actix::test]
    async fn redis_unreachable_is_an_error_not_a_missing_message() {
        let redis = Redis::new(RedisConfig::from_url("redis://127.0.0.1:1", "t:").unwrap());
        let cache = Cache::new(redis, Duration::from_secs(10)).start();
        let got = cache.send(GetMessage {}).await.unwrap();
        assert!(matches!(got, Err(ActorError::RedisUnavailable(_))));
        let set = cache.send(SetMessage {}).await.unwrap();
        assert!(matches!(set, Err(ActorError::RedisUnavailable(_))));
    }
}
