//! `CONFIG_HASH`: the variables read from a Redis hash as well as from the environment, as the
//! notes want services to find their configuration (the HTTP port included) in Redis.
//!
//! Each field of the hash is a variable by name. The environment wins where both set one;
//! `REDIS_URL`, `REDIS_PREFIX` and `REDIS_CA_FILE`, which say where the hash is and how to
//! reach it, come only from the environment.

use std::collections::HashMap;
use std::time::Duration;

use switchyard_actors::error::chain;
use switchyard_actors::redis::Redis;

use super::{variables, Config, CONFIG_HASH};

/// Where the hash is: read from the environment only.
const FROM_ENVIRONMENT_ONLY: [&str; 4] =
    ["REDIS_URL", "REDIS_PREFIX", "REDIS_CA_FILE", CONFIG_HASH];

/// Redis may start alongside switchyard (one compose file): it is asked this many times, every
/// half second, before start-up gives up.
const ATTEMPTS: u32 = 20;

/// The configuration from the environment and, when `CONFIG_HASH` names one, the hash; an
/// error names the variable, and the hash and field when the value came from there.
pub async fn load(env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let Some(hash) = env(CONFIG_HASH).filter(|name| !name.trim().is_empty()) else {
        return Config::from_lookup(env).map_err(|err| err.to_string());
    };
    let located = Config::from_lookup(|name| {
        FROM_ENVIRONMENT_ONLY[..3]
            .contains(&name)
            .then(|| env(name))
            .flatten()
    })
    .map_err(|err| err.to_string())?;
    let redis = Redis::new(located.redis.clone());
    let key = redis.keys().named(hash.trim());
    let fields = read_hash(&redis, &key).await?;
    for name in fields.keys() {
        if FROM_ENVIRONMENT_ONLY.contains(&name.as_str()) {
            log::warn!("{key}: field {name} ignored: it is read from the environment only");
        } else if !variables().any(|variable| variable == name) {
            log::warn!("{key}: field {name} ignored: switchyard reads no such variable");
        }
    }
    let lookup = |name: &str| {
        env(name).or_else(|| {
            (!FROM_ENVIRONMENT_ONLY.contains(&name))
                .then(|| fields.get(name).cloned())
                .flatten()
        })
    };
    Config::from_lookup(lookup).map_err(|err| {
        if env(err.name).is_none() && fields.contains_key(err.name) {
            format!("{CONFIG_HASH} {key}: field {err}")
        } else {
            err.to_string()
        }
    })
}

async fn read_hash(redis: &Redis, key: &str) -> Result<HashMap<String, String>, String> {
    let mut attempt = 1;
    loop {
        match redis.hash(key).await {
            Ok(fields) => return Ok(fields),
            Err(err) if attempt == ATTEMPTS => {
                return Err(format!("{CONFIG_HASH}: cannot read {key}: {}", chain(&err)));
            }
            Err(_) => {
                if attempt == 1 {
                    log::warn!("{CONFIG_HASH}: waiting for Redis to read {key}");
                }
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
