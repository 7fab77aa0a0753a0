//! Message tracking, the notes' message lifecycle (`message.md`; docs/gateway.md#message-tracking),
//! on when `MESSAGE_TRACKING` is: each request a gateway queues gets an id from a counter and a
//! hash of its history, written by the scripts that already run per request (the gateway's
//! push, the worker's finish), so tracking costs no extra round trip. A [`monitor`] counts the
//! messages past their deadline that nobody answered; [`history`] reads one message back.
//!
//! Every time is Redis's clock (Unix milliseconds), so hosts need not agree on the time.

pub mod history;
pub mod monitor;

use std::time::Duration;

use crate::redis::Keys;

/// How long after its deadline a worker still records a tracked message's answer. A message's
/// hash is kept at least this long past its deadline (`MESSAGE_EXPIRE_SECS` exceeds
/// `GATEWAY_TIMEOUT_MS` by this much), so the worker's record lands on a hash that exists
/// without asking Redis first, and never makes a hash without an expiry.
pub const RECORDED_WITHIN_MS: u64 = 60_000;

/// `MESSAGE_TRACKING`'s settings, on a gateway.
#[derive(Debug, Clone)]
pub struct Tracking {
    /// How long a message's hash is kept after it was queued (`MESSAGE_EXPIRE_SECS`), and after
    /// it was answered.
    pub kept: Duration,
}

/// The longest `X-Request-Id` taken.
pub const MAX_XID_LEN: usize = 128;

/// Whether a client's `X-Request-Id` can be kept as a message's xid: 1 to [`MAX_XID_LEN`]
/// visible ASCII characters.
pub fn is_xid(xid: &str) -> bool {
    (1..=MAX_XID_LEN).contains(&xid.len()) && xid.bytes().all(|b| b.is_ascii_graphic())
}

/// Lua: `track(n, counter)` gives the first `n` messages in ARGV (from ARGV[8], each a JSON
/// object then the client's xid, '' for none: the id is the xid) the next ids from `counter`
/// (one `INCRBY` for all), a hash each, and that id as their first field, `track`: answers
/// the first id and the messages as tracked. ARGV[2] the hashes' key prefix, ARGV[3] the xid
/// keys' prefix, ARGV[4] how long hashes are kept (ms), ARGV[5] the gateway's timeout (ms),
/// ARGV[6] the queue's name, ARGV[7] the gateway's id. Needs `now`.
macro_rules! track_function {
    () => {
        "local function track(n, counter) \
           local first = redis.call('INCRBY', counter, n) - n + 1 \
           local deadline = now + tonumber(ARGV[5]) \
           local tracked = {} \
           for i = 1, n do \
             local id = first + i - 1 \
             local at = 8 + (i - 1) * 2 \
             local xid = ARGV[at + 1] \
             if xid == '' then xid = tostring(id) else redis.call('SET', ARGV[3] .. xid, id, 'PX', ARGV[4]) end \
             local key = ARGV[2] .. id \
             redis.call('HSET', key, 'timestamp', now, 'xid', xid, 'deadline', deadline, 'queue', ARGV[6], 'gateway', ARGV[7]) \
             redis.call('PEXPIRE', key, ARGV[4]) \
             tracked[i] = '{\"track\":' .. id .. ',' .. string.sub(ARGV[at], 2) \
           end \
           return first, tracked \
         end "
    };
}

/// The gateway's push, tracked. KEYS[1] the queue, KEYS[2] the counter; ARGV[1] the most the
/// queue may hold, then `track`'s. As many as the queue has room for, in order, tracked and
/// pushed. Answers how many it pushed and the first one's id.
pub(crate) const PUSH_TRACKED: &str = crate::redis::with_now!(
    track_function!(),
    "local room = tonumber(ARGV[1]) - redis.call('LLEN', KEYS[1]) \
     local n = math.floor(math.min(room, (#ARGV - 7) / 2)) \
     if n <= 0 then return {0, 0} end \
     local first, tracked = track(n, KEYS[2]) \
     redis.call('LPUSH', KEYS[1], unpack(tracked)) \
     return {n, first}"
);

/// Where a cluster keeps the queue apart from tracking, [`PUSH_TRACKED`]'s first step: KEYS[1]
/// the counter, ARGV as `PUSH_TRACKED`'s (ARGV[1] unused). Every message tracked; answers the
/// first id, then the messages as tracked, to be pushed by `PUSH_WITHIN_BOUND`.
pub(crate) const TRACK: &str = crate::redis::with_now!(
    track_function!(),
    "local first, tracked = track(math.floor((#ARGV - 7) / 2), KEYS[1]) \
     return {first, unpack(tracked)}"
);

/// KEYS[1] the counter (only to say where the hashes live); ARGV[1] the hashes' key prefix,
/// ARGV[2..] ids tracked by [`TRACK`] that the queue had no room for: forgotten, so that the
/// monitor never counts them as timeouts.
pub(crate) const UNTRACK: &str =
    "for i = 2, #ARGV do redis.call('DEL', ARGV[1] .. ARGV[i]) end return 0";

/// Lua for the workers' finish scripts: `mark_done(t)` records on each tracked message's hash
/// when it was answered, its status and the worker, from ARGV[t]: the hashes' key prefix, the
/// worker's id, then id, status pairs. The worker passes only messages within
/// [`RECORDED_WITHIN_MS`] of their deadline, whose hash still exists.
macro_rules! mark_done_function {
    () => {
        "local function mark_done(t) \
           if t > #ARGV then return end \
           local tm = redis.call('TIME') \
           local now = tm[1] * 1000 + math.floor(tm[2] / 1000) \
           for i = t + 2, #ARGV, 2 do \
             redis.call('HSET', ARGV[t] .. ARGV[i], 'done', now, 'status', ARGV[i + 1], 'service', ARGV[t + 1]) \
           end \
         end "
    };
}
pub(crate) use mark_done_function;

/// `mark_done`'s arguments for the tracked answers among some finished requests, `(id, status)`
/// each: none (nor the key prefix made) when there are none, the usual case.
pub(crate) fn done_args(keys: &Keys, worker: &str, done: &[(u64, u16)]) -> Vec<String> {
    if done.is_empty() {
        return Vec::new();
    }
    let mut args = Vec::with_capacity(2 + 2 * done.len());
    args.extend([keys.tracked_messages(), worker.to_owned()]);
    for (id, status) in done {
        args.extend([id.to_string(), status.to_string()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xid_is_short_visible_ascii() {
        assert!(is_xid("req-42_a.b:c/d"));
        assert!(is_xid(&"x".repeat(MAX_XID_LEN)));
        for bad in ["", "a b", "é", "tab\t", &"x".repeat(MAX_XID_LEN + 1)] {
            assert!(!is_xid(bad), "{bad:?}");
        }
    }

    #[test]
    fn nothing_tracked_adds_no_arguments() {
        let keys = Keys::new("p:", false);
        assert!(done_args(&keys, "w", &[]).is_empty());
        assert_eq!(
            done_args(&keys, "w", &[(7, 200), (9, 504)]),
            ["p:message:", "w", "7", "200", "9", "504"]
        );
    }
}

#[cfg(test)]
mod lifecycle_tests;
