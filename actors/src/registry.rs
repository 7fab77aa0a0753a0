//! `ServerRegistry`: the app servers this instance spawned, and the registry in Redis that
//! every instance and proxy of a deployment shares.
//!
//! The registry is one sorted set: each member a server's URL, its score the moment (Redis's
//! clock, in milliseconds) its registration runs out. The owner renews its servers every
//! heartbeat, so a server whose process died drops out within three heartbeats. Every change
//! is announced on a channel, for the proxies.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::io;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message,
    ResponseActFuture, ResponseFuture, SpawnHandle, WrapFuture,
};
use futures_util::future::join_all;
use futures_util::FutureExt;
use redis_async::resp::RespValue;

use crate::error::ActorError;
use crate::redis::{Keys, Redis};

/// Registers `ARGV[1]` until now + `ARGV[2]` ms, drops registrations that ran out, announces.
const REGISTER: &str = "local t = redis.call('TIME') \
    local now = t[1] * 1000 + math.floor(t[2] / 1000) \
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) \
    local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) \
    if added == 1 then redis.call('PUBLISH', KEYS[2], 'added') end return added";

/// Removes `ARGV[1]` unless it is the last live registration; 1 when removed.
const DEREGISTER_UNLESS_LAST: &str = "local t = redis.call('TIME') \
    local now = t[1] * 1000 + math.floor(t[2] / 1000) \
    if redis.call('ZCOUNT', KEYS[1], now, '+inf') <= 1 then return 0 end \
    local removed = redis.call('ZREM', KEYS[1], ARGV[1]) \
    if removed == 1 then redis.call('PUBLISH', KEYS[2], 'removed') end return removed";

/// Removes the members given in ARGV; announces when any was there.
const DEREGISTER: &str = "local removed = redis.call('ZREM', KEYS[1], unpack(ARGV)) \
    if removed > 0 then redis.call('PUBLISH', KEYS[2], 'removed') end return removed";

/// The live registrations, oldest first.
const LIVE: &str = "local t = redis.call('TIME') \
    local now = t[1] * 1000 + math.floor(t[2] / 1000) \
    return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')";

/// Starts app servers; the binary provides it (this crate knows no HTTP server).
pub trait Launcher {
    /// Starts an app server listening on `port`, or says why it cannot (the port is taken).
    fn launch(&self, port: u16) -> io::Result<Box<dyn Spawned>>;
}

/// An app server started by a [`Launcher`].
pub trait Spawned {
    /// Stops accepting connections at once and completes when requests in flight finished.
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()>>>;
}

/// Start one more app server and register it; answers its URL.
#[derive(Message)]
#[rtype(result = "Result<String, ActorError>")]
pub struct SpawnServer {}

/// Deregister one randomly chosen server this instance spawned, then stop it gracefully;
/// answers its URL.
#[derive(Message)]
#[rtype(result = "Result<String, ActorError>")]
pub struct DestroyServer {}

/// The instance is shutting down: stop renewing, refuse spawns and destroys, and remove every
/// registration this instance made (its own and its servers', spawns under way included).
#[derive(Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeregisterAll {}

/// Stop the spawned servers gracefully; completes when their requests in flight finished.
/// The registry stops with them. Send after [`DeregisterAll`], so no proxy picks them meanwhile.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopSpawned {}

/// The URLs of every live registered server, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<String>, ActorError>")]
pub struct ListServers {}

/// Where spawned servers go and how they are announced.
pub struct RegistrySettings {
    /// Ports to spawn on (`SPAWN_PORTS`).
    pub ports: RangeInclusive<u16>,
    /// Most servers this instance spawns (`SPAWN_MAX`).
    pub max: usize,
    /// The host in the URLs others use to reach them (`ADVERTISE_HOST`).
    pub advertise_host: String,
    /// How often registrations are renewed; one lapses after three.
    pub heartbeat: Duration,
    /// This instance's own URL, to register it beside the servers it spawns (`REGISTER_URL`).
    pub own_url: Option<String>,
}

struct SpawnedServer {
    port: u16,
    url: String,
    server: Box<dyn Spawned>,
}

/// Owns the servers this instance spawned. One instance per process.
pub struct ServerRegistry {
    redis: Redis,
    launcher: Box<dyn Launcher>,
    settings: RegistrySettings,
    spawned: Vec<SpawnedServer>,
    /// Ports handed out and not yet returned (a spawn still registering counts).
    ports_in_use: Vec<u16>,
    /// The renewals; cancelled by [`DeregisterAll`].
    heartbeat: Option<SpawnHandle>,
    /// Set by [`DeregisterAll`]: nothing is registered any more.
    closing: bool,
}

impl ServerRegistry {
    pub fn new(redis: Redis, launcher: Box<dyn Launcher>, settings: RegistrySettings) -> Self {
        Self {
            redis,
            launcher,
            settings,
            spawned: Vec::new(),
            ports_in_use: Vec::new(),
            heartbeat: None,
            closing: false,
        }
    }

    fn url_of(&self, port: u16) -> String {
        format!("http://{}:{port}", self.settings.advertise_host)
    }

    fn shutting_down() -> ActorError {
        ActorError::Stopped {
            reason: "the instance is shutting down".into(),
        }
    }

    fn lifetime_ms(&self) -> String {
        (self.settings.heartbeat.as_millis() * 3).to_string()
    }

    fn register(&self, url: &str) -> impl Future<Output = Result<(), ActorError>> + 'static {
        let keys = self.redis.keys();
        let command = eval(
            REGISTER,
            &[keys.servers(), keys.servers_changed()],
            &[url.to_owned(), self.lifetime_ms()],
        );
        let redis = self.redis.clone();
        async move { redis.command::<i64>(command).await.map(drop) }
    }

    fn renew_all(&mut self, ctx: &mut Context<Self>) {
        let own = self.settings.own_url.iter();
        for url in own.chain(self.spawned.iter().map(|s| &s.url)) {
            let register = self.register(url);
            ctx.spawn(
                async move {
                    if let Err(err) = register.await {
                        log::debug!("registration not renewed: {err}");
                    }
                }
                .into_actor(self),
            );
        }
    }

    /// The first port of the range that is ours to try and that the launcher can bind.
    fn launch_on_free_port(&mut self) -> Result<(u16, Box<dyn Spawned>), ActorError> {
        for port in self.settings.ports.clone() {
            if self.ports_in_use.contains(&port) {
                continue;
            }
            match self.launcher.launch(port) {
                Ok(server) => return Ok((port, server)),
                Err(err) => log::debug!("port {port} not usable: {err}"),
            }
        }
        Err(ActorError::NoFreePort {
            range: format!(
                "{}-{}",
                self.settings.ports.start(),
                self.settings.ports.end()
            ),
        })
    }
}

/// The command that reads the live registrations, oldest first.
pub fn live_servers_command(keys: &Keys) -> RespValue {
    eval(LIVE, &[keys.servers()], &[])
}

fn eval(script: &str, keys: &[String], args: &[String]) -> RespValue {
    let mut parts: Vec<RespValue> =
        vec!["EVAL".into(), script.into(), keys.len().to_string().into()];
    parts.extend(keys.iter().map(|k| RespValue::from(k.as_str())));
    parts.extend(args.iter().map(|a| RespValue::from(a.as_str())));
    RespValue::Array(parts)
}

impl Actor for ServerRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.renew_all(ctx);
        self.heartbeat = Some(ctx.run_interval(self.settings.heartbeat, Self::renew_all));
    }
}

impl Handler<SpawnServer> for ServerRegistry {
    type Result = ResponseActFuture<Self, Result<String, ActorError>>;

    fn handle(&mut self, _: SpawnServer, _: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return Box::pin(actix::fut::ready(Err(Self::shutting_down())));
        }
        if self.ports_in_use.len() >= self.settings.max {
            let max = self.settings.max;
            return Box::pin(actix::fut::ready(Err(ActorError::SpawnLimit { max })));
        }
        let (port, server) = match self.launch_on_free_port() {
            Ok(launched) => launched,
            Err(err) => return Box::pin(actix::fut::ready(Err(err))),
        };
        self.ports_in_use.push(port);
        let url = self.url_of(port);
        let register = self.register(&url);
        Box::pin(register.into_actor(self).map(move |registered, actor, _| {
            // Shut down meanwhile: its registration went with the others (DeregisterAll
            // removes spawns under way too), and it would never be stopped.
            let registered = match registered {
                Ok(()) if actor.closing => Err(Self::shutting_down()),
                other => other,
            };
            match registered {
                Ok(()) => {
                    log::info!("spawned {url}");
                    actor.spawned.push(SpawnedServer {
                        port,
                        url: url.clone(),
                        server,
                    });
                    Ok(url)
                }
                Err(err) => {
                    // Unregistered, no proxy would find it: it is not kept.
                    actor.ports_in_use.retain(|&p| p != port);
                    actix_rt::spawn(server.stop());
                    Err(err)
                }
            }
        }))
    }
}

impl Handler<DestroyServer> for ServerRegistry {
    type Result = ResponseActFuture<Self, Result<String, ActorError>>;

    fn handle(&mut self, _: DestroyServer, _: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return Box::pin(actix::fut::ready(Err(Self::shutting_down())));
        }
        if self.spawned.is_empty() {
            return Box::pin(actix::fut::ready(Err(ActorError::NothingToDestroy)));
        }
        // Taken out now, so two destroys at once never pick the same server.
        let index = RandomState::new().hash_one(self.spawned.len()) as usize % self.spawned.len();
        let chosen = self.spawned.swap_remove(index);
        let keys = self.redis.keys();
        let command = eval(
            DEREGISTER_UNLESS_LAST,
            &[keys.servers(), keys.servers_changed()],
            std::slice::from_ref(&chosen.url),
        );
        let redis = self.redis.clone();
        let deregister = async move { redis.command::<i64>(command).await };
        Box::pin(deregister.into_actor(self).then(move |removed, actor, _| {
            let refusal = match removed {
                Ok(1) => None,
                Ok(_) => Some(ActorError::LastServer),
                Err(err) => Some(err),
            };
            let outcome: ResponseFuture<Result<String, ActorError>> = match refusal {
                Some(err) => {
                    actor.spawned.push(chosen);
                    Box::pin(async move { Err(err) })
                }
                None => {
                    actor.ports_in_use.retain(|&p| p != chosen.port);
                    log::info!("destroying {}", chosen.url);
                    let url = chosen.url;
                    let stopped = chosen.server.stop();
                    Box::pin(async move {
                        stopped.await;
                        Ok(url)
                    })
                }
            };
            outcome.into_actor(actor)
        }))
    }
}

impl Handler<DeregisterAll> for ServerRegistry {
    type Result = ResponseFuture<Result<(), ActorError>>;

    fn handle(&mut self, _: DeregisterAll, ctx: &mut Context<Self>) -> Self::Result {
        self.closing = true;
        if let Some(heartbeat) = self.heartbeat.take() {
            ctx.cancel_future(heartbeat);
        }
        let mut urls: Vec<String> = self.ports_in_use.iter().map(|&p| self.url_of(p)).collect();
        urls.extend(self.settings.own_url.clone());
        if urls.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        // Sent on the connection that carried the renewals and registrations, so it lands
        // after any of them still under way.
        let keys = self.redis.keys();
        let command = eval(DEREGISTER, &[keys.servers(), keys.servers_changed()], &urls);
        let redis = self.redis.clone();
        Box::pin(async move { redis.command::<i64>(command).await.map(drop) })
    }
}

impl Handler<StopSpawned> for ServerRegistry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopSpawned, ctx: &mut Context<Self>) -> Self::Result {
        ctx.stop();
        let stops = std::mem::take(&mut self.spawned)
            .into_iter()
            .map(|spawned| spawned.server.stop());
        Box::pin(join_all(stops).map(drop))
    }
}

impl Handler<ListServers> for ServerRegistry {
    type Result = ResponseFuture<Result<Vec<String>, ActorError>>;

    fn handle(&mut self, _: ListServers, _: &mut Context<Self>) -> Self::Result {
        let command = live_servers_command(self.redis.keys());
        let redis = self.redis.clone();
        Box::pin(async move { redis.command(command).await })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use actix::Actor;

    use super::*;
    use crate::redis::RedisConfig;

    /// Counts the servers it was asked for and starts none.
    struct CountingLauncher(Rc<Cell<usize>>);

    impl Launcher for CountingLauncher {
        fn launch(&self, port: u16) -> io::Result<Box<dyn Spawned>> {
            self.0.set(self.0.get() + 1);
            Err(io::Error::other(format!(
                "port {port}: this launcher starts nothing"
            )))
        }
    }

    #[actix::test]
    async fn once_deregistered_nothing_is_spawned_or_destroyed() {
        let launches = Rc::new(Cell::new(0));
        let redis = Redis::new(RedisConfig::from_url("redis://127.0.0.1:1", "t:").unwrap());
        let settings = RegistrySettings {
            ports: 3001..=3002,
            max: 2,
            advertise_host: "127.0.0.1".into(),
            heartbeat: Duration::from_secs(60),
            own_url: None,
        };
        let launcher = Box::new(CountingLauncher(Rc::clone(&launches)));
        let registry = ServerRegistry::new(redis, launcher, settings).start();

        // Nothing registered: nothing to tell Redis.
        assert_eq!(registry.send(DeregisterAll {}).await.unwrap(), Ok(()));
        let spawned = registry.send(SpawnServer {}).await.unwrap();
        assert!(
            matches!(spawned, Err(ActorError::Stopped { .. })),
            "{spawned:?}"
        );
        assert_eq!(launches.get(), 0);
        let destroyed = registry.send(DestroyServer {}).await.unwrap();
        assert!(
            matches!(destroyed, Err(ActorError::Stopped { .. })),
            "{destroyed:?}"
        );
    }
}
