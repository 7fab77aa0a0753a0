//! `ServerRegistry`: the app servers this instance spawned, and the registry in Redis that
//! every instance and proxy of a deployment shares.
//!
//! The registry is one sorted set of registrations ([`member`]), each scored by the moment
//! (Redis's clock, in milliseconds) it runs out. The owner renews its registrations every
//! heartbeat, so the servers of a process that died drop out within three heartbeats, and only
//! ever removes its own. Every change is announced on a channel, for the proxies.

pub mod controller;
mod launcher;
pub mod member;
mod registrations;
mod scripts;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::ops::RangeInclusive;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message,
    ResponseActFuture, ResponseFuture, SpawnHandle, WrapFuture,
};
use futures_util::future::join_all;
use futures_util::FutureExt;

pub use launcher::{AppServer, Launcher};
pub use registrations::live_members;
use registrations::Registrations;

use crate::error::ActorError;
use crate::redis::Redis;

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

/// The URLs of every live registered server, oldest first, each once.
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

/// A server this instance spawned and registered.
struct SpawnedServer {
    port: u16,
    url: String,
    server: Box<dyn AppServer>,
}

/// Owns the servers this instance spawned. One per process.
pub struct ServerRegistry {
    registrations: Registrations,
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
            registrations: Registrations::new(redis, settings.heartbeat),
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

    fn renew_all(&mut self, ctx: &mut Context<Self>) {
        let own = self.settings.own_url.iter();
        for url in own.chain(self.spawned.iter().map(|s| &s.url)) {
            let register = self.registrations.register(url);
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
    fn launch_on_free_port(&mut self) -> Result<(u16, Box<dyn AppServer>), ActorError> {
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
            range: self.settings.ports.clone(),
        })
    }
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
            return Box::pin(actix::fut::ready(Err(ActorError::ShuttingDown)));
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
        let register = self.registrations.register(&url);
        Box::pin(register.into_actor(self).map(move |registered, actor, _| {
            // Shut down meanwhile: its registration went with the others (DeregisterAll
            // removes spawns under way too), and it would never be stopped.
            let registered = match registered {
                Ok(()) if actor.closing => Err(ActorError::ShuttingDown),
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
            return Box::pin(actix::fut::ready(Err(ActorError::ShuttingDown)));
        }
        if self.spawned.is_empty() {
            return Box::pin(actix::fut::ready(Err(ActorError::NothingToDestroy)));
        }
        // Taken out now, so two destroys at once never pick the same server.
        let index = RandomState::new().hash_one(self.spawned.len()) as usize % self.spawned.len();
        let chosen = self.spawned.swap_remove(index);
        let deregister = self.registrations.deregister_unless_last(&chosen.url);
        Box::pin(deregister.into_actor(self).then(move |removed, actor, _| {
            let outcome: ResponseFuture<Result<String, ActorError>> = match removed {
                Err(err) => {
                    actor.spawned.push(chosen);
                    Box::pin(async move { Err(err) })
                }
                Ok(()) => {
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
        // Spawns still registering included.
        let own = self.settings.own_url.iter().cloned();
        let urls = self.ports_in_use.iter().map(|&p| self.url_of(p)).chain(own);
        Box::pin(self.registrations.deregister(urls))
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
        let redis = self.registrations.redis().clone();
        Box::pin(async move {
            let members = live_members(&redis).await?;
            let urls = member::urls(&members, |_| {});
            Ok(urls.into_iter().map(str::to_owned).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use actix::Actor;

    use super::*;
    use crate::redis::RedisConfig;
    use std::io;

    /// Counts the servers it was asked for and starts none.
    struct CountingLauncher(Rc<Cell<usize>>);

    impl Launcher for CountingLauncher {
        fn launch(&self, port: u16) -> io::Result<Box<dyn AppServer>> {
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
        assert_eq!(registry.send(DeregisterAll {}).await.unwrap().unwrap(), ());
        let spawned = registry.send(SpawnServer {}).await.unwrap();
        assert!(
            matches!(spawned, Err(ActorError::ShuttingDown)),
            "{spawned:?}"
        );
        assert_eq!(launches.get(), 0);
        let destroyed = registry.send(DestroyServer {}).await.unwrap();
        assert!(
            matches!(destroyed, Err(ActorError::ShuttingDown)),
            "{destroyed:?}"
        );
    }
}
