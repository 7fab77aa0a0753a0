//! The bounds on what rquery (and hrender's reads) answer: each command that could answer
//! much is run as a script that checks the size in Redis before anything is read.

use redis_async::resp::{FromResp, RespValue};

use super::ReadCommand;
use crate::error::{ActorError, Cause};
use crate::redis::Redis;

/// The longest string (or hash field) an answer holds.
pub const MOST_STRING_BYTES: usize = 1024 * 1024;
/// The most fields of a hash, items of a range, members of a set an answer holds.
pub const MOST_ITEMS: usize = 1000;
/// The most bytes of a hash's, a range's or a set's items together.
pub const MOST_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// How a script's error starts when a bound would be passed; the rest is for the client.
const TOO_LARGE: &str = "TOOLARGE ";

/// Lua, on KEYS[1] with ARGV[2] the most bytes. `too_large(what)` refuses. `range(n)` turns
/// the indexes ARGV[3], ARGV[4] into the first and last item LRANGE or ZRANGE would answer from
/// `n`, and their count. `read_range(command, first, last)` and `scan_all(command)` (HSCAN,
/// SSCAN; what a scan returns twice is kept once) read a few items at a time and give up (nil)
/// once past the most bytes: no more than that, and one step, is ever copied.
macro_rules! helpers {
    () => {
        "local function too_large(what) return redis.error_reply('TOOLARGE ' .. what) end \
         local most_bytes = tonumber(ARGV[2]) \
         local function range(n) \
           local first, last = tonumber(ARGV[3]), tonumber(ARGV[4]) \
           if first < 0 then first = math.max(n + first, 0) end \
           if last < 0 then last = n + last end \
           last = math.min(last, n - 1) \
           return first, last, math.max(last - first + 1, 0) end \
         local function read_range(command, first, last) \
           local items, bytes, i = {}, 0, first \
           while i <= last do \
             local step = redis.call(command, KEYS[1], i, math.min(i + 15, last)) \
             if #step == 0 then break end \
             for _, item in ipairs(step) do bytes = bytes + #item items[#items + 1] = item end \
             if bytes > most_bytes then return nil end \
             i = i + 16 \
           end \
           return items end \
         local function scan_all(command) \
           local cursor, seen, flat, bytes = '0', {}, {}, 0 \
           local width = command == 'HSCAN' and 2 or 1 \
           repeat \
             local answer = redis.call(command, KEYS[1], cursor, 'COUNT', 16) \
             cursor = answer[1] \
             local got = answer[2] \
             for j = 1, #got, width do \
               if not seen[got[j]] then \
                 seen[got[j]] = true \
                 for k = j, j + width - 1 do flat[#flat + 1] = got[k] bytes = bytes + #got[k] end \
               end \
             end \
             if bytes > most_bytes then return nil end \
           until cursor == '0' \
           return flat end \
         local function too_many_bytes() \
           return too_large('the answer would hold more than ' .. ARGV[2] .. ' bytes') end "
    };
}

/// KEYS[1] a list; ARGV the most items, the most bytes, a start and a stop (as LRANGE's): at
/// most that many items from the range's start (hrender's `list`), within the bytes.
const FIRST_ITEMS: &str = concat!(
    helpers!(),
    "local first, last = range(redis.call('LLEN', KEYS[1])) \
     last = math.min(last, first + tonumber(ARGV[1]) - 1) \
     return read_range('LRANGE', first, last) or too_many_bytes()"
);

impl ReadCommand {
    /// The script that checks this command's answer is within its bounds before reading it
    /// (KEYS[1] the key; ARGV the most items, the most bytes, then the command's arguments);
    /// `None` for the commands whose answer is a number or a word.
    fn bounded(self) -> Option<&'static str> {
        Some(match self {
            Self::Hget => {
                "if redis.call('HSTRLEN', KEYS[1], ARGV[3]) > tonumber(ARGV[2]) then \
                   return redis.error_reply('TOOLARGE the value is longer than ' .. ARGV[2] .. ' bytes') \
                 end return redis.call('HGET', KEYS[1], ARGV[3])"
            }
            Self::Hgetall => concat!(
                helpers!(),
                "if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[1]) then \
                   return too_large('the hash has more than ' .. ARGV[1] .. ' fields') end \
                 return scan_all('HSCAN') or too_many_bytes()"
            ),
            Self::Smembers => concat!(
                helpers!(),
                "if redis.call('SCARD', KEYS[1]) > tonumber(ARGV[1]) then \
                   return too_large('the set has more than ' .. ARGV[1] .. ' members') end \
                 return scan_all('SSCAN') or too_many_bytes()"
            ),
            Self::Lrange => concat!(
                helpers!(),
                "local first, last, count = range(redis.call('LLEN', KEYS[1])) \
                 if count > tonumber(ARGV[1]) then \
                   return too_large('the range holds more than ' .. ARGV[1] .. ' items') end \
                 return read_range('LRANGE', first, last) or too_many_bytes()"
            ),
            Self::Zrange => concat!(
                helpers!(),
                "local first, last, count = range(redis.call('ZCARD', KEYS[1])) \
                 if count > tonumber(ARGV[1]) then \
                   return too_large('the range holds more than ' .. ARGV[1] .. ' items') end \
                 return read_range('ZRANGE', first, last) or too_many_bytes()"
            ),
            // GET is read with GETRANGE instead ([`string_within`]): no script to run.
            Self::Get
            | Self::Llen
            | Self::Scard
            | Self::Zcard
            | Self::Ttl
            | Self::Type
            | Self::Exists => return None,
        })
    }

    /// The bound on bytes this command's answer is checked against.
    fn most_bytes(self) -> usize {
        match self {
            Self::Hget => MOST_STRING_BYTES,
            _ => MOST_ANSWER_BYTES,
        }
    }

    /// The command Redis runs on `key` (a full key) with `args` (checked): the command itself,
    /// or the script that bounds its answer.
    fn on(self, key: &str, args: Vec<String>) -> RespValue {
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

/// Runs `command` on `key` (a full key) with `args` (checked) within its bounds: what rquery
/// answers, and hrender's `get` and `hash`. What Redis refuses is the client's question
/// ([`refusal`]).
pub(crate) async fn read<T: FromResp>(
    redis: &Redis,
    command: ReadCommand,
    key: &str,
    args: Vec<String>,
) -> Result<T, ActorError> {
    let answer = match command {
        ReadCommand::Get => match string_within(redis, key).await? {
            Some(value) => RespValue::BulkString(value),
            None => RespValue::Nil,
        },
        _ => run(redis, command.on(key, args)).await?,
    };
    T::from_resp(answer).map_err(|err| ActorError::Redis(Cause::new(err)))
}

/// The string at `key`, `None` when there is none, within [`MOST_STRING_BYTES`]: `GETRANGE`
/// reads at most one byte more than the bound, so a longer value is never copied whole; only
/// an empty answer costs a second command (`EXISTS`), to tell "" from nothing.
async fn string_within(redis: &Redis, key: &str) -> Result<Option<Vec<u8>>, ActorError> {
    let last = MOST_STRING_BYTES.to_string();
    let range = RespValue::Array(vec!["GETRANGE".into(), key.into(), "0".into(), last.into()]);
    let value: Vec<u8> = run(redis, range).await?;
    if value.len() > MOST_STRING_BYTES {
        return Err(ActorError::AnswerTooLarge(format!(
            "the value is longer than {MOST_STRING_BYTES} bytes"
        )));
    }
    if !value.is_empty() {
        return Ok(Some(value));
    }
    let exists: i64 = run(redis, RespValue::Array(vec!["EXISTS".into(), key.into()])).await?;
    Ok((exists == 1).then_some(value))
}

/// hrender's `list`: at most [`MOST_ITEMS`] items of the list at `key` (a full key) from the
/// range's start, within [`MOST_ANSWER_BYTES`].
pub(crate) async fn first_items(
    redis: &Redis,
    key: &str,
    start: i64,
    stop: i64,
) -> Result<Vec<Vec<u8>>, ActorError> {
    let mut parts: Vec<RespValue> = vec!["EVAL".into(), FIRST_ITEMS.into(), "1".into()];
    parts.push(key.into());
    for arg in [
        MOST_ITEMS.to_string(),
        MOST_ANSWER_BYTES.to_string(),
        start.to_string(),
        stop.to_string(),
    ] {
        parts.push(arg.into());
    }
    run(redis, RespValue::Array(parts)).await
}

/// `command`, with what Redis refuses made the client's question.
async fn run<T: FromResp>(redis: &Redis, command: RespValue) -> Result<T, ActorError> {
    redis.command(command).await.map_err(|err| match err {
        ActorError::Redis(reason) => refusal(&reason),
        other => other,
    })
}

/// What Redis refused as the client's question, not a failure: an answer past a bound, or
/// Redis's own words (the key holds another type, say), without the script's name that Redis
/// puts after them.
fn refusal(reason: &Cause) -> ActorError {
    let reason = reason.to_string();
    let words = reason.split(" script: ").next().unwrap_or_default();
    match words.strip_prefix(TOO_LARGE) {
        Some(bound) => ActorError::AnswerTooLarge(bound.to_owned()),
        None => ActorError::QueryRefused(words.to_owned()),
    }
}
