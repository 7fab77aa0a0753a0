//! The bounds on what rquery (and hrender's reads) answer: each command that could answer
//! much is run as a script that checks the size in Redis before anything is read.

use redis_async::resp::RespValue;

use super::ReadCommand;
use crate::error::{ActorError, Cause};

/// The longest string (or hash field) an answer holds.
pub const MOST_STRING_BYTES: usize = 1024 * 1024;
/// The most fields of a hash, items of a range, members of a set an answer holds.
pub const MOST_ITEMS: usize = 1000;
/// The most bytes of a hash's, a range's or a set's items together.
pub const MOST_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// How a script's error starts when a bound would be passed; the rest is for the client.
const TOO_LARGE: &str = "TOOLARGE ";

/// Lua: `too_large(what)` refuses; `within_bytes(items)` answers `items` unless together they
/// pass ARGV[2] bytes; `range(n)` is how many items LRANGE or ZRANGE ARGV[3] ARGV[4] answers
/// from `n`.
macro_rules! helpers {
    () => {
        "local function too_large(what) return redis.error_reply('TOOLARGE ' .. what) end \
         local function within_bytes(items) \
           local n = 0 for _, item in ipairs(items) do n = n + #item end \
           if n > tonumber(ARGV[2]) then \
             return too_large('the answer would hold more than ' .. ARGV[2] .. ' bytes') end \
           return items end \
         local function range(n) \
           local first, last = tonumber(ARGV[3]), tonumber(ARGV[4]) \
           if first < 0 then first = math.max(n + first, 0) end \
           if last < 0 then last = n + last end \
           last = math.min(last, n - 1) \
           return math.max(last - first + 1, 0) end "
    };
}

impl ReadCommand {
    /// The script that checks this command's answer is within its bounds before reading it
    /// (KEYS[1] the key; ARGV the most items, the most bytes, then the command's arguments);
    /// `None` for the commands whose answer is a number or a word.
    fn bounded(self) -> Option<&'static str> {
        Some(match self {
            Self::Get => {
                "if redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[2]) then \
                   return redis.error_reply('TOOLARGE the value is longer than ' .. ARGV[2] .. ' bytes') \
                 end return redis.call('GET', KEYS[1])"
            }
            Self::Hget => {
                "if redis.call('HSTRLEN', KEYS[1], ARGV[3]) > tonumber(ARGV[2]) then \
                   return redis.error_reply('TOOLARGE the value is longer than ' .. ARGV[2] .. ' bytes') \
                 end return redis.call('HGET', KEYS[1], ARGV[3])"
            }
            Self::Hgetall => concat!(
                helpers!(),
                "if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[1]) then \
                   return too_large('the hash has more than ' .. ARGV[1] .. ' fields') end \
                 return within_bytes(redis.call('HGETALL', KEYS[1]))"
            ),
            Self::Smembers => concat!(
                helpers!(),
                "if redis.call('SCARD', KEYS[1]) > tonumber(ARGV[1]) then \
                   return too_large('the set has more than ' .. ARGV[1] .. ' members') end \
                 return within_bytes(redis.call('SMEMBERS', KEYS[1]))"
            ),
            Self::Lrange => concat!(
                helpers!(),
                "if range(redis.call('LLEN', KEYS[1])) > tonumber(ARGV[1]) then \
                   return too_large('the range holds more than ' .. ARGV[1] .. ' items') end \
                 return within_bytes(redis.call('LRANGE', KEYS[1], ARGV[3], ARGV[4]))"
            ),
            Self::Zrange => concat!(
                helpers!(),
                "if range(redis.call('ZCARD', KEYS[1])) > tonumber(ARGV[1]) then \
                   return too_large('the range holds more than ' .. ARGV[1] .. ' items') end \
                 return within_bytes(redis.call('ZRANGE', KEYS[1], ARGV[3], ARGV[4]))"
            ),
            Self::Llen | Self::Scard | Self::Zcard | Self::Ttl | Self::Type | Self::Exists => {
                return None
            }
        })
    }

    /// The bound on bytes this command's answer is checked against.
    fn most_bytes(self) -> usize {
        match self {
            Self::Get | Self::Hget => MOST_STRING_BYTES,
            _ => MOST_ANSWER_BYTES,
        }
    }

    /// The command Redis runs on `key` (a full key) with `args` (checked): the command itself,
    /// or the script that bounds its answer. hrender's `get` and `hash` read with it too.
    pub(crate) fn on(self, key: String, args: Vec<String>) -> RespValue {
        let args = args.into_iter().map(RespValue::from);
        let mut parts: Vec<RespValue> = Vec::with_capacity(6 + args.len());
        match self.bounded() {
            Some(script) => {
                parts.extend(["EVAL".into(), script.into(), "1".into(), key.into()]);
                parts.push(MOST_ITEMS.to_string().into());
                parts.push(self.most_bytes().to_string().into());
            }
            None => parts.extend([self.name().into(), key.into()]),
        }
        parts.extend(args);
        RespValue::Array(parts)
    }
}

/// What Redis refused as the client's question, not a failure: an answer past a bound, or
/// Redis's own words (the key holds another type, say), without the script's name that Redis
/// puts after them.
pub(crate) fn refusal(reason: &Cause) -> ActorError {
    let reason = reason.to_string();
    let words = reason.split(" script: ").next().unwrap_or_default();
    match words.strip_prefix(TOO_LARGE) {
        Some(bound) => ActorError::AnswerTooLarge(bound.to_owned()),
        None => ActorError::QueryRefused(words.to_owned()),
    }
}
