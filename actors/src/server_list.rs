//! `ServerListWatcher`: keeps this process's copy of the server registry current.
//!
//! Proxies pick a server for every request; asking Redis each time would cost a round trip per
//! request. They read [`ServerList`], a shared copy that the watcher refreshes from Redis every
//! [`REFRESH`]. While Redis is down the copy keeps the last list it knew.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use actix::{Actor, ActorFutureExt, AsyncContext, Context, WrapFuture};

use crate::redis::Redis;
use crate::registry::live_servers_command;

/// How often the copy is refreshed: registry changes reach every proxy within this.
pub const REFRESH: Duration = Duration::from_millis(250);

/// The registered servers as this process last saw them; clones share it.
#[derive(Clone, Default)]
pub struct ServerList {
    /// `None` until a first list was read from Redis.
    servers: Arc<RwLock<Option<Arc<[String]>>>>,
}

impl ServerList {
    /// The servers, or `None` when no list has been read yet.
    pub fn current(&self) -> Option<Arc<[String]>> {
        self.servers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, servers: Vec<String>) {
        let mut current = self.servers.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_deref() != Some(servers.as_slice()) {
            log::info!("servers: {servers:?}");
            *current = Some(servers.into());
        }
    }
}

/// Refreshes a [`ServerList`] from Redis. One per process.
pub struct ServerListWatcher {
    redis: Redis,
    list: ServerList,
    refreshing: bool,
}

impl ServerListWatcher {
    pub fn new(redis: Redis, list: ServerList) -> Self {
        Self {
            redis,
            list,
            refreshing: false,
        }
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let redis = self.redis.clone();
        let command = live_servers_command(redis.keys());
        let read = async move { redis.command::<Vec<String>>(command).await };
        ctx.spawn(read.into_actor(self).map(|read, watcher, _| {
            watcher.refreshing = false;
            match read {
                Ok(servers) => watcher.list.replace(servers),
                // The last list stands; the Redis layer logs the outage.
                Err(err) => log::debug!("server list not refreshed: {err}"),
            }
        }));
    }
}

impl Actor for ServerListWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.refresh(ctx);
        ctx.run_interval(REFRESH, Self::refresh);
    }
}
