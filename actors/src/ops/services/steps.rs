//! A registration's steps in Redis. The counter, the set of live ids and each process's hash
//! are touched by separate commands, never by one script: a cluster keeps them on different
//! nodes. Between two steps a process may die: an id taken and never written is skipped; a
//! hash written and never scored expires with its lifetime; a hash deleted after its score was
//! removed is what deregistering leaves. None of them lists a dead process for longer than
//! three heartbeats.

use redis_async::resp_array;

use crate::error::ActorError;
use crate::redis::{eval, with_now, Redis};

// The hash scripts answer when the hash now lapses (`PEXPIRETIME`, Unix ms), and the score is
// that same moment: the two lapse together, so a hash found gone while its score is live was
// deleted, never merely lapsed a moment before its score.

/// KEYS[1] a new registration's hash; ARGV[1] the lifetime in ms, then field and value pairs.
/// Writes it unless it exists already: when it lapses, or 0 when left as it was.
const WRITE_NEW: &str = with_now!(
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end \
     redis.call('HSET', KEYS[1], 'renewed', math.floor(now / 1000), unpack(ARGV, 2)) \
     redis.call('PEXPIRE', KEYS[1], ARGV[1]) return redis.call('PEXPIRETIME', KEYS[1])"
);

/// KEYS[1] the hash; ARGV[1] the lifetime in ms, then field and value pairs. Written again
/// whole, after it had lapsed: when it lapses.
const WRITE_AGAIN: &str = with_now!(
    "redis.call('HSET', KEYS[1], 'renewed', math.floor(now / 1000), unpack(ARGV, 2)) \
     redis.call('PEXPIRE', KEYS[1], ARGV[1]) return redis.call('PEXPIRETIME', KEYS[1])"
);

/// KEYS[1] the hash; ARGV[1] the lifetime in ms. Renews it and its `renewed` time: when it
/// lapses, or 0 when it is gone.
const RENEW_HASH: &str = with_now!(
    "if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end \
     redis.call('HSET', KEYS[1], 'renewed', math.floor(now / 1000)) \
     return redis.call('PEXPIRETIME', KEYS[1])"
);

/// KEYS[1] the live ids; ARGV[1] an id, ARGV[2] when its hash lapses (Unix ms). Scores it so,
/// and forgets the ids that lapsed.
const SCORE: &str = with_now!(
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) \
     redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) return 1"
);

/// KEYS[1] the live ids; ARGV[1] an id whose hash is gone. When its score says it should live,
/// someone deleted the hash: the id is removed and 1 answered (a remote stop); 0 when it
/// lapsed as well.
const DELETED_WHILE_LIVE: &str = with_now!(
    "local score = redis.call('ZSCORE', KEYS[1], ARGV[1]) \
     if score and tonumber(score) > now then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end \
     return 0"
);

/// KEYS[1] the live ids. The live ones.
const LIVE_IDS: &str = with_now!("return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')");

/// What a heartbeat found.
pub(super) enum Beaten {
    /// A new id, written and scored.
    Registered(u64),
    /// The id the counter gave names a hash that exists already: left as it is.
    Collision(u64),
    Renewed,
    /// Its hash and its score had both lapsed (Redis out of reach for a while): written again.
    RegisteredAgain,
    /// Its hash was deleted while it was live.
    Stop,
}

/// Takes the next id and registers it with `fields` for `lifetime_ms`.
pub(super) async fn register(
    redis: &Redis,
    lifetime_ms: &str,
    fields: &[String],
) -> Result<Beaten, ActorError> {
    let keys = redis.keys();
    let id: u64 = redis
        .command(resp_array!["INCR", keys.service_seq()])
        .await?;
    let lapses = written(redis, WRITE_NEW, id, lifetime_ms, fields).await?;
    if lapses == 0 {
        return Ok(Beaten::Collision(id));
    }
    score(redis, id, lapses).await?;
    Ok(Beaten::Registered(id))
}

/// Renews registration `id`, or tells why it could not.
pub(super) async fn renew(
    redis: &Redis,
    id: u64,
    lifetime_ms: &str,
    fields: &[String],
) -> Result<Beaten, ActorError> {
    let keys = redis.keys();
    let hash = [keys.service(id)];
    let lapses: i64 = redis
        .command(eval(RENEW_HASH, &hash, &[lifetime_ms.to_owned()]))
        .await?;
    if lapses == 0 {
        let live = [keys.services()];
        let deleted: i64 = redis
            .command(eval(DELETED_WHILE_LIVE, &live, &[id.to_string()]))
            .await?;
        if deleted == 1 {
            return Ok(Beaten::Stop);
        }
        let lapses = written(redis, WRITE_AGAIN, id, lifetime_ms, fields).await?;
        score(redis, id, lapses).await?;
        return Ok(Beaten::RegisteredAgain);
    }
    score(redis, id, lapses).await?;
    Ok(Beaten::Renewed)
}

async fn written(
    redis: &Redis,
    script: &str,
    id: u64,
    lifetime_ms: &str,
    fields: &[String],
) -> Result<i64, ActorError> {
    let mut args = vec![lifetime_ms.to_owned()];
    args.extend(fields.iter().cloned());
    let hash = [redis.keys().service(id)];
    redis.command(eval(script, &hash, &args)).await
}

/// Scores `id` in the live ids to lapse at `lapses` (Unix ms, its hash's).
async fn score(redis: &Redis, id: u64, lapses: i64) -> Result<(), ActorError> {
    let live = [redis.keys().services()];
    let args = [id.to_string(), lapses.to_string()];
    let _: i64 = redis.command(eval(SCORE, &live, &args)).await?;
    Ok(())
}

/// Every live registration: its id and its hash's fields and values, flat (empty when the hash
/// is gone). The hashes are read together, each where it lives.
pub(super) async fn live(redis: &Redis) -> Result<Vec<(String, Vec<String>)>, ActorError> {
    let keys = redis.keys();
    let ids: Vec<String> = redis
        .command(eval(LIVE_IDS, &[keys.services()], &[]))
        .await?;
    let reads = ids.into_iter().filter_map(|id| {
        let key = keys.service(id.parse().ok()?);
        Some(async move {
            let fields: Vec<String> = redis.command(resp_array!["HGETALL", key]).await?;
            Ok::<_, ActorError>((id, fields))
        })
    });
    futures_util::future::try_join_all(reads).await
}

/// Removes registration `id`: its score, then its hash.
pub(super) async fn deregister(redis: &Redis, id: u64) -> Result<(), ActorError> {
    let keys = redis.keys();
    let id_text = id.to_string();
    let _: i64 = redis
        .command(resp_array!["ZREM", keys.services(), id_text.as_str()])
        .await?;
    let _: i64 = redis.command(resp_array!["DEL", keys.service(id)]).await?;
    Ok(())
}
