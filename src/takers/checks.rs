//! What start-up checks and shows of the takers' lists: each a pass over the config's
//! [`TakerSpec`](crate::config::TakerSpec)s.

use switchyard_actors::redis::{Keys, Redis};

use crate::config::{Config, TakerSpec};

/// Every list this process takes from or feeds (full keys): a gateway's queue and route
/// queues, a router's route queues, every taker's lists. Their lengths are in `/metrics` and
/// `/status`.
pub fn lists(config: &Config, keys: &Keys) -> Vec<String> {
    let mut lists: Vec<String> = Vec::new();
    if config.gateway_port.is_some() {
        lists.push(config.gateway_queue.clone());
    }
    let routes = config.gateway_port.is_some()
        || config
            .takers
            .iter()
            .any(|taker| matches!(taker, TakerSpec::Router { .. }));
    if routes {
        lists.extend(config.gateway_routes.queues().map(str::to_owned));
    }
    for taker in &config.takers {
        lists.extend(taker.lists().into_iter().map(|named| named.list.to_owned()));
    }
    lists.sort();
    lists.dedup();
    lists.iter().map(|list| keys.named(list)).collect()
}

/// Every list a taker's variable names must be a list, or not exist yet: a key of another type
/// stops the program, naming the variable. Unchecked (with a warning) when Redis does not
/// answer: the takers then log the error when they reach it.
pub async fn check_list_types(config: &Config) -> Result<(), String> {
    let named: Vec<_> = config
        .takers
        .iter()
        .flat_map(|taker| taker.lists())
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    let redis = Redis::new(config.redis.clone());
    for list in named {
        let (variable, key) = (list.variable, redis.keys().named(list.list));
        match redis.key_type(&key).await {
            Ok(kind) if kind == "list" || kind == "none" => {}
            Ok(kind) => {
                return Err(format!(
                    "{variable} names {key}, which holds a {kind}, not a list: \
                     name another list or remove that key"
                ))
            }
            Err(err) => {
                log::warn!("could not check that {variable}'s lists are lists: {err}");
                return Ok(());
            }
        }
    }
    Ok(())
}
