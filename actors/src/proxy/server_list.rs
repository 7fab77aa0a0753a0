//! `ServerListWatcher`: keeps this process's copy of the server registry current.
//!
//! Proxies pick a server for every request; asking Redis each time would cost a round trip per
//! request. They read [`ServerList`], a shared copy that the watcher refreshes from Redis as
//! soon as a change is announced on the registry's channel, and every [`REFRESH`] in any case
//! (registrations that lapse are not announced; an announcement can be missed while the
//! subscription reconnects). While Redis is down the copy keeps the last list it knew.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, StreamHandler, WrapFuture};
use redis_async::error::Error as RedisError;
use redis_async::resp::RespValue;

use crate::http::address::is_server_url;
use crate::redis::Redis;
use crate::registry::{live_members, member};

/// How often the copy is refreshed even without an announcement.
pub const REFRESH: Duration = Duration::from_millis(250);

/// A registered server the proxy may send to: `http://host:port`, checked when read from the
/// registry. Clones share the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backend(Arc<str>);

impl Backend {
    /// `url` when it is `http://host:port` and nothing more.
    pub fn parse(url: &str) -> Option<Self> {
        is_server_url(url).then(|| Self(url.into()))
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        self.0.trim_start_matches("http://")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The registered servers as this process last saw them; clones share it.
#[derive(Clone, Default)]
pub struct ServerList {
    /// `None` until a first list was read from Redis.
    servers: Arc<RwLock<Option<Arc<[Backend]>>>>,
}

impl ServerList {
    /// The servers, or `None` when no list has been read yet.
    pub fn current(&self) -> Option<Arc<[Backend]>> {
        self.servers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, servers: Vec<Backend>) {
        let mut current = self.servers.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_deref() != Some(servers.as_slice()) {
            let urls: Vec<String> = servers.iter().map(Backend::to_string).collect();
            log::info!("servers: {urls:?}");
            *current = Some(servers.into());
        }
    }
}

/// Refreshes a [`ServerList`] from Redis. One per process.
pub struct ServerListWatcher {
    redis: Redis,
    list: ServerList,
    refreshing: bool,
    /// A change was announced while a refresh was under way: read again after it.
    stale: bool,
    subscription: Subscription,
    /// Malformed registry entries already warned about; each is warned about once while it
    /// stays in the registry.
    refused: HashSet<String>,
}

#[derive(PartialEq)]
enum Subscription {
    None,
    Connecting,
    Active,
}

impl ServerListWatcher {
    pub fn new(redis: Redis, list: ServerList) -> Self {
        Self {
            redis,
            list,
            refreshing: false,
            stale: false,
            subscription: Subscription::None,
            refused: HashSet::new(),
        }
    }

    /// Takes the live registrations as the new list, leaving malformed ones out.
    fn take(&mut self, members: Vec<String>) {
        let mut refused = HashSet::new();
        let urls = member::urls(&members, |bad| {
            if !self.refused.contains(bad) {
                log::warn!("ignoring a malformed registry entry: {bad:?}");
            }
            refused.insert(bad.to_owned());
        });
        self.list
            .replace(urls.into_iter().filter_map(Backend::parse).collect());
        self.refused = refused;
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.subscribe(ctx);
        self.refresh(ctx);
    }

    fn subscribe(&mut self, ctx: &mut Context<Self>) {
        if self.subscription != Subscription::None {
            return;
        }
        self.subscription = Subscription::Connecting;
        let redis = self.redis.clone();
        let subscribe = async move { redis.subscribe(&redis.keys().servers_changed()).await };
        ctx.spawn(subscribe.into_actor(self).map(|subscribed, watcher, ctx| {
            match subscribed {
                Ok(stream) => {
                    watcher.subscription = Subscription::Active;
                    ctx.add_stream(stream);
                    // Changes made before the subscription took are read now.
                    watcher.refresh(ctx);
                }
                Err(err) => {
                    watcher.subscription = Subscription::None;
                    log::debug!("registry changes not subscribed: {err}");
                }
            }
        }));
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing {
            self.stale = true;
            return;
        }
        self.refreshing = true;
        self.stale = false;
        let redis = self.redis.clone();
        let read = async move { live_members(&redis).await };
        ctx.spawn(read.into_actor(self).map(|read, watcher, ctx| {
            watcher.refreshing = false;
            match read {
                Ok(members) => watcher.take(members),
                // The last list stands; the Redis layer logs the outage.
                Err(err) => log::debug!("server list not refreshed: {err}"),
            }
            if watcher.stale {
                watcher.refresh(ctx);
            }
        }));
    }
}

impl Actor for ServerListWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
        ctx.run_interval(REFRESH, Self::tick);
    }
}

/// An announcement on the registry's channel: read the list again.
impl StreamHandler<Result<RespValue, RedisError>> for ServerListWatcher {
    fn handle(&mut self, _: Result<RespValue, RedisError>, ctx: &mut Context<Self>) {
        self.refresh(ctx);
    }

    /// The subscription's connection broke: the next tick subscribes again (the default would
    /// stop the actor).
    fn finished(&mut self, _: &mut Context<Self>) {
        self.subscription = Subscription::None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::RedisConfig;

    /// Redis on a port nothing listens on: every read fails fast.
    fn unreachable_redis() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::new(RedisConfig::from_url(&format!("redis://127.0.0.1:{port}"), "p:").unwrap())
    }

    fn members(all: &[&str]) -> Vec<String> {
        all.iter().map(|m| m.to_string()).collect()
    }

    /// The servers `list` holds, as URLs.
    fn urls(list: &ServerList) -> Vec<String> {
        let current = list.current().unwrap();
        current.iter().map(Backend::to_string).collect()
    }

    #[actix::test]
    async fn malformed_entries_are_left_out_and_remembered_while_they_stay() {
        let list = ServerList::default();
        let mut watcher = ServerListWatcher::new(unreachable_redis(), list.clone());
        watcher.take(members(&["http://a:1#x", "http://a:1/p#x", "http://b:2#y"]));
        assert_eq!(urls(&list), ["http://a:1", "http://b:2"]);
        assert_eq!(
            watcher.refused,
            HashSet::from(["http://a:1/p#x".to_owned()])
        );

        // Gone from the registry: forgotten, so it would be warned about again if it came back.
        watcher.take(members(&["http://b:2#y"]));
        assert!(watcher.refused.is_empty());
        assert_eq!(urls(&list), ["http://b:2"]);
    }

    #[actix::test]
    async fn with_redis_unreachable_from_the_start_no_list_is_known() {
        let list = ServerList::default();
        ServerListWatcher::new(unreachable_redis(), list.clone()).start();
        actix_rt::time::sleep(REFRESH * 2).await;
        assert!(list.current().is_none());
    }
}
