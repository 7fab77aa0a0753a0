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
use crate::redis::{eval, with_now, Redis};

/// KEYS[1] the id sequence, KEYS[2] the live ids; ARGV[1] the hashes' key prefix, ARGV[2] the
/// lifetime in ms, then field and value pairs. Forgets lapsed ids, takes the next id, writes
/// its hash; answers the id, or minus the id when its key exists already (left as it is).
const REGISTER: &str = with_now!(
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) \
     local id = redis.call('INCR', KEYS[1]) \
     local key = ARGV[1] .. id \
     if redis.call('EXISTS', key) == 1 then return -id end \
     redis.call('HSET', key, 'renewed', math.floor(now / 1000), unpack(ARGV, 3)) \
     redis.call('PEXPIRE', key, ARGV[2]) \
     redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id) \
     return id"
);

/// KEYS[1] this process's hash, KEYS[2] the live ids; ARGV[1] its id, ARGV[2] the lifetime in
/// ms, then field and value pairs. Renews the registration and its `renewed` time (answers
/// `renewed`); when the hash is gone
/// but its id has not lapsed, someone deleted it (`stop`); when both are gone, Redis was out
/// of reach for a while and the hash is written again (`registered`).
const RENEW: &str = with_now!(
    "local lapses = now + tonumber(ARGV[2]) \
     if redis.call('PEXPIRE', KEYS[1], ARGV[2]) == 1 then \
       redis.call('HSET', KEYS[1], 'renewed', math.floor(now / 1000)) \
       redis.call('ZADD', KEYS[2], lapses, ARGV[1]) return 'renewed' \
     end \
     local score = redis.call('ZSCORE', KEYS[2], ARGV[1]) \
     if score and tonumber(score) > now then \
       redis.call('ZREM', KEYS[2], ARGV[1]) return 'stop' \
     end \
     redis.call('HSET', KEYS[1], 'renewed', math.floor(now / 1000), unpack(ARGV, 3)) \
     redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
     redis.call('ZADD', KEYS[2], lapses, ARGV[1]) \
     return 'registered'"
);

/// KEYS[1] the live ids; ARGV[1] the hashes' key prefix. Every live registration as a flat
/// list: id, then its fields and values as one flat list.
const LIVE: &str = with_now!(
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf') \
     local answer = {} \
     for _, id in ipairs(ids) do \
       local fields = redis.call('HGETALL', ARGV[1] .. id) \
       if #fields > 0 then answer[#answer + 1] = id answer[#answer + 1] = fields end \
     end return answer"
);

/// What a process says of itself.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    /// What it does, e.g. `main,gateway,workers`.
    pub roles: String,
    pub host: String,
    pub pid: u32,
    pub version: &'static str,
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

    fn hash_prefix(&self) -> String {
        self.redis.keys().service_prefix()
    }

    fn beat(&mut self) -> Beat<Self> {
        let redis = self.redis.clone();
        let keys = redis.keys().clone();
        let mut args = match self.id {
            Some(id) => vec![id.to_string(), self.lifetime_ms()],
            None => vec![self.hash_prefix(), self.lifetime_ms()],
        };
        args.extend(self.fields.iter().cloned());
        let id = self.id;
        let work = async move {
            match id {
                None => {
                    let keys = [keys.service_seq(), keys.services()];
                    let id: i64 = redis.command(eval(REGISTER, &keys, &args)).await?;
                    let outcome = if id < 0 { "collision" } else { "registered" };
                    Ok::<_, ActorError>((id.unsigned_abs(), outcome.to_owned()))
                }
                Some(id) => {
                    let keys = [keys.service(id), keys.services()];
                    let outcome: String = redis.command(eval(RENEW, &keys, &args)).await?;
                    Ok((id, outcome))
                }
            }
        };
        Box::pin(fut::wrap_future(work).map(|result, act: &mut Self, ctx| {
            match result {
                Ok((id, outcome)) if outcome == "collision" => log::error!(
                    "{} exists already: not written over (is another writer using this \
                     prefix, or was the counter reset?); the next heartbeat takes another id",
                    act.redis.keys().service(id)
                ),
                Ok((id, outcome)) => {
                    let had_registered = act.id.replace(id).is_some();
                    match outcome.as_str() {
                        "stop" => {
                            log::info!("service {id}'s registration was deleted: stopping");
                            if let Some(stop) = act.stop.take() {
                                let _ = stop.send(());
                            }
                            ctx.stop();
                        }
                        "registered" if had_registered => {
                            log::info!("registered again as service {id} (it had lapsed)");
                        }
                        "registered" => log::info!("registered as service {id}"),
                        _ => {}
                    }
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
        let prefix = self.hash_prefix();
        Box::pin(async move {
            let keys = [redis.keys().services()];
            let flat: Vec<RespValue> = redis.command(eval(LIVE, &keys, &[prefix])).await?;
            let mut services = Vec::with_capacity(flat.len() / 2);
            let mut parts = flat.into_iter();
            while let (Some(id), Some(fields)) = (parts.next(), parts.next()) {
                if let Some(service) = service(id, fields) {
                    services.push(service);
                }
            }
            services.sort_by_key(|service| service.id);
            Ok(services)
        })
    }
}

/// One registration read back; `None` when it is not one switchyard wrote.
fn service(id: RespValue, fields: RespValue) -> Option<Service> {
    use redis_async::resp::FromResp;
    let id: u64 = String::from_resp(id).ok()?.parse().ok()?;
    let flat = Vec::<String>::from_resp(fields).ok()?;
    let mut map = HashMap::new();
    let mut pairs = flat.into_iter();
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
            let keys = redis.keys();
            let remove = RespValue::Array(vec![
                "EVAL".into(),
                "redis.call('ZREM', KEYS[2], ARGV[1]) return redis.call('DEL', KEYS[1])".into(),
                "2".into(),
                keys.service(id).into(),
                keys.services().into(),
                id.to_string().into(),
            ]);
            let _: i64 = redis.command(remove).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
