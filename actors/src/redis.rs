//! The one place that opens Redis connections and names Redis keys.
//!
//! Ordinary commands share one redis-async `PairedConnection`, opened on first use (so the
//! server starts while Redis is down) and opened again after it breaks. Every command is
//! bounded by [`COMMAND_TIMEOUT`], connecting included: with Redis down or unreachable a request
//! fails fast instead of hanging.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis_async::client::pubsub::PubsubStream;
use redis_async::client::{ConnectionBuilder, PairedConnection};
use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;

use crate::error::ActorError;

/// The longest a command may take, connecting included; HTTP answers stay under 1 s.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(750);

/// Where Redis is and which keys are ours, from `REDIS_URL` and `REDIS_PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    pub prefix: String,
}

impl RedisConfig {
    /// Parses `redis://[[user]:password@]host[:port][/db]`; the port defaults to 6379, the
    /// database to 0. The error says what is wrong.
    pub fn from_url(url: &str, prefix: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or("it must start with redis://")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, address) = match authority.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, authority),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => {
                let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
                let user = (!user.is_empty())
                    .then(|| percent_decode(user))
                    .transpose()?;
                (user, Some(percent_decode(password)?))
            }
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| "the port is not a number")?),
            None => (address, 6379),
        };
        if host.is_empty() {
            return Err("it names no host".into());
        }
        let db = match path.trim_end_matches('/') {
            "" => 0,
            db => db.parse().map_err(|_| "the database is not a number")?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            username,
            password,
            db,
            prefix: prefix.to_owned(),
        })
    }
}

fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).ok_or("a bad %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a bad %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials that are not UTF-8".into())
}

/// Every Redis key switchyard uses, each under the configured prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Arc<str>,
}

impl Keys {
    /// The cache's self-destructing message (`/set`, `/get`).
    pub fn message(&self) -> String {
        format!("{}message", self.prefix)
    }

    /// The list of recent visits, newest first (`/recent`).
    pub fn recent_visits(&self) -> String {
        format!("{}recent", self.prefix)
    }

    /// The queue of uploaded images, newest first (`/upload`, `/meow`).
    pub fn image_queue(&self) -> String {
        format!("{}images", self.prefix)
    }

    /// The registry of app servers: a sorted set of URLs scored by when they lapse.
    pub fn servers(&self) -> String {
        format!("{}servers", self.prefix)
    }

    /// The channel on which every change to the registry is announced.
    pub fn servers_changed(&self) -> String {
        format!("{}servers:changed", self.prefix)
    }
}

/// A handle on the shared connection; clones share it.
#[derive(Clone)]
pub struct Redis {
    shared: Arc<Shared>,
}

struct Shared {
    config: RedisConfig,
    keys: Keys,
    current: Mutex<Option<PairedConnection>>,
    /// One connection attempt at a time; the others wait for its result.
    connecting: tokio::sync::Mutex<()>,
    /// An outage is logged when it starts and when it ends, not once per command.
    reachable: AtomicBool,
}

impl Redis {
    /// Connects on first use, not here.
    pub fn new(config: RedisConfig) -> Self {
        let keys = Keys {
            prefix: config.prefix.as_str().into(),
        };
        Self {
            shared: Arc::new(Shared {
                config,
                keys,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                reachable: AtomicBool::new(true),
            }),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// Sends one command and reads its answer as `T`, within [`COMMAND_TIMEOUT`].
    pub async fn command<T: FromResp + Unpin>(&self, command: RespValue) -> Result<T, ActorError> {
        let result = tokio::time::timeout(COMMAND_TIMEOUT, self.command_unbounded(command))
            .await
            .unwrap_or_else(|_| {
                let reason = format!("no answer within {COMMAND_TIMEOUT:?}");
                Err(ActorError::RedisUnavailable { reason })
            });
        self.note_reachability(&result);
        result
    }

    async fn command_unbounded<T: FromResp + Unpin>(
        &self,
        command: RespValue,
    ) -> Result<T, ActorError> {
        let (connection, reused) = self.connection().await?;
        match self.send(&connection, command.clone()).await {
            // A connection kept from earlier may have died with a Redis restart since: one more
            // try on a fresh one, so no request fails for it. (A command Redis ran just before
            // the connection broke would run twice: a crash at that instant is the only case.)
            Err(ActorError::RedisUnavailable { .. }) if reused => {
                let (fresh, _) = self.connection().await?;
                self.send(&fresh, command).await
            }
            result => result,
        }
    }

    async fn send<T: FromResp + Unpin>(
        &self,
        connection: &PairedConnection,
        command: RespValue,
    ) -> Result<T, ActorError> {
        match connection.send::<T>(command).await {
            Ok(answer) => Ok(answer),
            // Redis answered: the connection is fine, the command was not.
            Err(RedisError::Remote(reason)) | Err(RedisError::Resp(reason, _)) => {
                Err(ActorError::Redis { reason })
            }
            Err(err) => {
                self.forget_connection();
                Err(ActorError::RedisUnavailable {
                    reason: err.to_string(),
                })
            }
        }
    }

    /// A subscription to `channel` on a connection of its own (a subscribed connection can run
    /// no other command), connecting within [`COMMAND_TIMEOUT`]. The stream ends when the
    /// connection breaks: subscribe again then.
    pub async fn subscribe(&self, channel: &str) -> Result<PubsubStream, ActorError> {
        let config = &self.shared.config;
        let subscribe = async {
            let mut builder = ConnectionBuilder::new(config.host.as_str(), config.port)?;
            if let Some(username) = &config.username {
                builder.username(username.as_str());
            }
            if let Some(password) = &config.password {
                builder.password(password.as_str());
            }
            builder.pubsub_connect().await?.subscribe(channel).await
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, subscribe).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(ActorError::RedisUnavailable {
                reason: err.to_string(),
            }),
            Err(_) => Err(ActorError::RedisUnavailable {
                reason: format!("no subscription within {COMMAND_TIMEOUT:?}"),
            }),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<PairedConnection>> {
        // The slot is only ever replaced whole, so a poisoned lock still holds a sound value.
        self.shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<PairedConnection> {
        self.slot().clone()
    }

    /// A broken connection is dropped and a new one opened for the next command, so the new
    /// one gets its AUTH and SELECT (redis-async's own reconnection would skip the SELECT).
    fn forget_connection(&self) {
        *self.slot() = None;
    }

    /// The shared connection, opened if there is none; `true` when it was opened before.
    async fn connection(&self) -> Result<(PairedConnection, bool), ActorError> {
        if let Some(connection) = self.current() {
            return Ok((connection, true));
        }
        let _only_attempt = self.shared.connecting.lock().await;
        if let Some(connection) = self.current() {
            return Ok((connection, false));
        }
        let connection = self
            .connect()
            .await
            .map_err(|err| ActorError::RedisUnavailable {
                reason: err.to_string(),
            })?;
        *self.slot() = Some(connection.clone());
        Ok((connection, false))
    }

    async fn connect(&self) -> Result<PairedConnection, RedisError> {
        let config = &self.shared.config;
        let mut builder = ConnectionBuilder::new(config.host.as_str(), config.port)?;
        if let Some(username) = &config.username {
            builder.username(username.as_str());
        }
        if let Some(password) = &config.password {
            builder.password(password.as_str());
        }
        builder.reconnect_timeout(COMMAND_TIMEOUT);
        let connection = builder.paired_connect().await?;
        if config.db != 0 {
            let _: String = connection
                .send(resp_array!["SELECT", config.db.to_string()])
                .await?;
        }
        Ok(connection)
    }

    fn note_reachability<T>(&self, result: &Result<T, ActorError>) {
        let config = &self.shared.config;
        match result {
            Err(ActorError::RedisUnavailable { reason }) => {
                if self.shared.reachable.swap(false, Ordering::Relaxed) {
                    log::warn!(
                        "redis at {}:{} unavailable: {reason}",
                        config.host,
                        config.port
                    );
                }
            }
            _ => {
                if !self.shared.reachable.swap(true, Ordering::Relaxed) {
                    log::info!("redis at {}:{} answers again", config.host, config.port);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<RedisConfig, String> {
        RedisConfig::from_url(url, "p:")
    }

    #[test]
    fn parses_host_port_password_and_db() {
        let config = parse("redis://:s%40cret@cache.local:6380/3").unwrap();
        assert_eq!(config.host, "cache.local");
        assert_eq!(config.port, 6380);
        assert_eq!(config.username, None);
        assert_eq!(config.password.as_deref(), Some("s@cret"));
        assert_eq!(config.db, 3);
    }

    #[test]
    fn defaults_port_and_db() {
        let config = parse("redis://127.0.0.1").unwrap();
        assert_eq!((config.port, config.db), (6379, 0));
        let config = parse("redis://user:pw@h:1/").unwrap();
        assert_eq!(config.username.as_deref(), Some("user"));
        assert_eq!(config.db, 0);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for url in [
            "http://h:1",
            "redis://:1",
            "redis://h:port",
            "redis://h:1/x",
            "redis://:%4@h",
        ] {
            assert!(parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn every_key_carries_the_prefix() {
        let redis = Redis::new(parse("redis://h").unwrap());
        let keys = redis.keys();
        let all = [
            keys.message(),
            keys.recent_visits(),
            keys.image_queue(),
            keys.servers(),
            keys.servers_changed(),
        ];
        for key in all {
            assert!(key.starts_with("p:"), "{key}");
        }
    }

    #[actix::test]
    async fn nothing_listening_fails_fast() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let redis = Redis::new(parse(&format!("redis://127.0.0.1:{port}")).unwrap());
        let answer: Result<String, _> = redis.command(resp_array!["PING"]).await;
        assert!(matches!(answer, Err(ActorError::RedisUnavailable { .. })));
    }
}
