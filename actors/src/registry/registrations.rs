//! [`Registrations`]: one instance's entries in the registry (the sorted set in Redis), and
//! [`live_members`], how anyone reads it. Every change runs as one of [`scripts`](super::scripts).

use std::future::Future;
use std::time::Duration;

use super::{member, scripts};
use crate::error::ActorError;
use crate::redis::Redis;

/// The live registrations, oldest first ([`member`] format; the proxies and `/listservers`
/// read them).
pub async fn live_members(redis: &Redis) -> Result<Vec<String>, ActorError> {
    redis.command(scripts::live(redis.keys())).await
}

/// What one instance registers: each entry names it as the owner, so it only ever removes its
/// own, and lapses unless renewed within three heartbeats.
pub struct Registrations {
    redis: Redis,
    /// Random, so two processes never share it.
    owner: String,
    lifetime: Duration,
}

impl Registrations {
    pub fn new(redis: Redis, heartbeat: Duration) -> Self {
        Self {
            redis,
            owner: crate::random_id(),
            lifetime: heartbeat * 3,
        }
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    fn member(&self, url: &str) -> String {
        member::member(url, &self.owner)
    }

    /// Registers `url`, or renews its registration.
    pub fn register(&self, url: &str) -> impl Future<Output = Result<(), ActorError>> + 'static {
        let command = scripts::register(
            self.redis.keys(),
            &self.member(url),
            self.lifetime.as_millis(),
        );
        let redis = self.redis.clone();
        async move { redis.command::<i64>(command).await.map(drop) }
    }

    /// Removes `url`'s registration unless it is the last live one of the registry.
    pub fn deregister_unless_last(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<(), ActorError>> + 'static {
        let command = scripts::deregister_unless_last(self.redis.keys(), &self.member(url));
        let redis = self.redis.clone();
        async move {
            match redis.command::<i64>(command).await? {
                1 => Ok(()),
                _ => Err(ActorError::LastServer),
            }
        }
    }

    /// Removes the registrations of `urls`. Sent on the connection that carried the renewals
    /// and registrations, so it lands after any of them still under way.
    pub fn deregister(
        &self,
        urls: impl Iterator<Item = String>,
    ) -> impl Future<Output = Result<(), ActorError>> + 'static {
        let members: Vec<String> = urls.map(|url| self.member(&url)).collect();
        let command =
            (!members.is_empty()).then(|| scripts::deregister(self.redis.keys(), &members));
        let redis = self.redis.clone();
        async move {
            match command {
                Some(command) => redis.command::<i64>(command).await.map(drop),
                None => Ok(()),
            }
        }
    }
}
