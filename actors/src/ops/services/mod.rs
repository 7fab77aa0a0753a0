//! [`ServiceRegistration`]: every switchyard process registers itself in Redis, renews the
//! registration every heartbeat, and stops when someone deletes it (docs/services.md).
//!
//! `<prefix>service:<id>` is a hash (`roles`, `host`, `pid`, `started`, `version`, and
//! `renewed`, the time of the last renewal, as the notes' `service.md` has it) that expires
//! after three heartbeats; `<prefix>services` scores each id by when it lapses. A new id whose
//! key exists already (the counter was reset, or another writer uses the namespace) is an
//! error, never written over: the notes' "a service must assert that its key does not exist". A renewal that
//! finds the hash gone while the score says it should live means it was deleted: a remote stop.
//! One that finds both lapsed means Redis was out of reach for a while: it registers again.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use redis_async::resp::RespValue;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::{chain, ActorError};
use crate::heartbeat::{self, Beat, FirstBeat};
use crate::redis::Redis;
use steps::Beaten;

mod steps;

/// What a process says of itself.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    /// What it does, e.g. `main,gateway,workers`.
    pub roles: String,
    pub host: String,
    pub pid: u32,
    pub version: &'static str,
    /// The lists it takes from or feeds (full keys), so that any process can show the whole
    /// fleet's queues.
    pub lists: Vec<String>,
}

/// One live service, as `/services` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub id: u64,
    pub roles: String,
    pub host: String,
    pub pid: u32,
    /// Unix time in seconds.
    pub started: u64,
    /// Unix time in seconds of the last renewal (none from a version that did not write it).
    pub renewed: Option<u64>,
    pub version: String,
    /// The lists it takes from or feeds (full keys); none from a version that did not say.
    pub lists: Vec<String>,
}

/// The live services.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<Service>, ActorError>")]
pub struct ListServices;

/// Tells the service `id` to stop (deletes its registration); answers whether it was live.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, ActorError>")]
pub struct StopService {
    pub id: u64,
}

/// This process's id, once it has registered.
#[derive(Debug, Message)]
#[rtype(result = "Option<u64>")]
pub struct OwnId;

/// Removes this process's registration (it is stopping) and renews it no more.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeregisterService;

pub struct ServiceRegistration {
    redis: Redis,
    fields: Vec<String>,
    heartbeat: Duration,
    id: Option<u64>,
    /// Fired when the registration was deleted: the process stops as on SIGTERM.
    stop: Option<oneshot::Sender<()>>,
}

impl ServiceRegistration {
    /// `stop` fires when someone deletes this process's registration.
    pub fn new(
        redis: Redis,
        info: ServiceInfo,
        heartbeat: Duration,
        stop: oneshot::Sender<()>,
    ) -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let fields = [
            ("roles", info.roles),
            ("host", info.host),
            ("pid", info.pid.to_string()),
            ("started", started.to_string()),
            ("version", info.version.to_owned()),
            // A JSON array: a list's name may hold any visible character.
            (
                "lists",
                serde_json::to_string(&info.lists).unwrap_or_default(),
            ),
        ]
        .into_iter()
        .flat_map(|(name, value)| [name.to_owned(), value])
        .collect();
        Self {
            redis,
            fields,
            heartbeat,
            id: None,
            stop: Some(stop),
        }
    }

    fn lifetime_ms(&self) -> String {
        (3 * self.heartbeat.as_millis()).to_string()
    }

    fn beat(&mut self) -> Beat<Self> {
        let redis = self.redis.clone();
        let lifetime = self.lifetime_ms();
        let fields = self.fields.clone();
        let id = self.id;
        let work = async move {
            match id {
                None => steps::register(&redis, &lifetime, &fields).await,
                Some(id) => steps::renew(&redis, id, &lifetime, &fields).await,
            }
        };
        Box::pin(fut::wrap_future(work).map(|result, act: &mut Self, ctx| {
            match result {
                Ok(Beaten::Collision(id)) => log::error!(
                    "{} exists already: not written over (is another writer using this \
                     prefix, or was the counter reset?); the next heartbeat takes another id",
                    act.redis.keys().service(id)
                ),
                Ok(Beaten::Registered(id)) => {
                    act.id = Some(id);
                    log::info!("registered as service {id}");
                }
                Ok(Beaten::RegisteredAgain) => {
                    let id = act.id.unwrap_or_default();
                    log::info!("registered again as service {id} (it had lapsed)");
                }
                Ok(Beaten::Renewed) => {}
                Ok(Beaten::Stop) => {
                    let id = act.id.unwrap_or_default();
                    log::info!("service {id}'s registration was deleted: stopping");
                    if let Some(stop) = act.stop.take() {
                        let _ = stop.send(());
                    }
                    ctx.stop();
                }
                // Redis's outage is logged by its handle; the next heartbeat tries again.
                Err(err) => log::debug!("service registration not renewed: {}", chain(&err)),
            }
        }))
    }
}

impl Actor for ServiceRegistration {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        heartbeat::every(ctx, self.heartbeat, FirstBeat::AtOnce, Self::beat);
    }
}

impl Handler<OwnId> for ServiceRegistration {
    type Result = Option<u64>;

    fn handle(&mut self, _: OwnId, _: &mut Self::Context) -> Self::Result {
        self.id
    }
}

impl Handler<ListServices> for ServiceRegistration {
    type Result = ResponseFuture<Result<Vec<Service>, ActorError>>;

    fn handle(&mut self, _: ListServices, _: &mut Self::Context) -> Self::Result {
        let redis = self.redis.clone();
        Box::pin(async move {
            let mut services: Vec<Service> = steps::live(&redis)
                .await?
                .into_iter()
                .filter_map(|(id, fields)| service(&id, fields))
                .collect();
            services.sort_by_key(|service| service.id);
            Ok(services)
        })
    }
}

/// One registration read back; `None` when it is not one switchyard wrote.
fn service(id: &str, fields: Vec<String>) -> Option<Service> {
    let id: u64 = id.parse().ok()?;
    let mut map = HashMap::new();
    let mut pairs = fields.into_iter();
    while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
        map.insert(name, value);
    }
    Some(Service {
        id,
        roles: map.remove("roles")?,
        host: map.remove("host")?,
        pid: map.remove("pid")?.parse().ok()?,
        started: map.remove("started")?.parse().ok()?,
        renewed: map.remove("renewed").and_then(|at| at.parse().ok()),
        version: map.remove("version")?,
        lists: map
            .remove("lists")
            .and_then(|lists| serde_json::from_str(&lists).ok())
            .unwrap_or_default(),
    })
}

impl Handler<StopService> for ServiceRegistration {
    type Result = ResponseFuture<Result<bool, ActorError>>;

    fn handle(&mut self, StopService { id }: StopService, _: &mut Self::Context) -> Self::Result {
        let redis = self.redis.clone();
        Box::pin(async move {
            let key = redis.keys().service(id);
            let removed: i64 = redis
                .command(RespValue::Array(vec!["DEL".into(), key.into()]))
                .await?;
            Ok(removed == 1)
        })
    }
}

impl Handler<DeregisterService> for ServiceRegistration {
    type Result = ResponseFuture<Result<(), ActorError>>;

    fn handle(&mut self, _: DeregisterService, ctx: &mut Self::Context) -> Self::Result {
        ctx.stop();
        let redis = self.redis.clone();
        let id = self.id;
        Box::pin(async move {
            let Some(id) = id else {
                return Ok(());
            };
            steps::deregister(&redis, id).await
        })
    }
}

#[cfg(test)]
mod tests;
