//! The registry's Lua scripts. Each is one atomic step on the sorted set (members are
//! registrations, scores the moment, on Redis's clock, that each lapses), and every change is
//! announced on the registry's channel, named in ARGV (a channel is not a key: on a cluster it
//! need not share the set's slot).

use redis_async::resp::RespValue;

use crate::redis::{eval, with_now, Keys};

/// Registers `ARGV[1]` until now + `ARGV[2]` ms, drops registrations that ran out, announces
/// on ARGV[3].
const REGISTER: &str = with_now!(
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) \
     local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) \
     if added == 1 then redis.call('PUBLISH', ARGV[3], 'added') end return added"
);

/// Removes `ARGV[1]` unless it is the last live registration, announces on ARGV[2]; 1 when
/// removed.
const DEREGISTER_UNLESS_LAST: &str = with_now!(
    "if redis.call('ZCOUNT', KEYS[1], now, '+inf') <= 1 then return 0 end \
     local removed = redis.call('ZREM', KEYS[1], ARGV[1]) \
     if removed == 1 then redis.call('PUBLISH', ARGV[2], 'removed') end return removed"
);

/// Removes the members given in ARGV[2..]; announces on ARGV[1] when any was there.
const DEREGISTER: &str = "local removed = redis.call('ZREM', KEYS[1], unpack(ARGV, 2)) \
    if removed > 0 then redis.call('PUBLISH', ARGV[1], 'removed') end return removed";

/// The live registrations, oldest first.
const LIVE: &str = with_now!("return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')");

/// Registers `member` for `lifetime_ms`.
pub fn register(keys: &Keys, member: &str, lifetime_ms: u128) -> RespValue {
    let args = [
        member.to_owned(),
        lifetime_ms.to_string(),
        keys.servers_changed(),
    ];
    eval(REGISTER, &[keys.servers()], &args)
}

/// Removes `member` unless it is the last live registration: answers 1 when removed.
pub fn deregister_unless_last(keys: &Keys, member: &str) -> RespValue {
    let args = [member.to_owned(), keys.servers_changed()];
    eval(DEREGISTER_UNLESS_LAST, &[keys.servers()], &args)
}

/// Removes `members`.
pub fn deregister(keys: &Keys, members: &[String]) -> RespValue {
    let mut args = vec![keys.servers_changed()];
    args.extend(members.iter().cloned());
    eval(DEREGISTER, &[keys.servers()], &args)
}

/// Reads the live registrations, oldest first.
pub fn live(keys: &Keys) -> RespValue {
    eval(LIVE, &[keys.servers()], &[])
}
