//! The gateway's Lua scripts, each one atomic step on its lists: the gateway's push, the
//! workers' take and answer.

use redis_async::resp::RespValue;

use super::tracking::mark_done_function;

// The gateway.

/// Pushes the messages in ARGV onto KEYS[1] while it holds fewer than ARGV[1]; answers how
/// many it pushed (the first ones).
pub const PUSH_WITHIN_BOUND: &str = "local room = tonumber(ARGV[1]) - redis.call('LLEN', KEYS[1]) \
    local n = math.min(room, #ARGV - 1) \
    if n <= 0 then return 0 end \
    redis.call('LPUSH', KEYS[1], unpack(ARGV, 2, n + 1)) return n";

// The workers.

/// Lua: `take(queue, busy, most)` moves up to `most` requests from the right (oldest) end of
/// `queue` to `busy` in three commands whatever their number (a command run by a script costs
/// several times one sent by a client), and answers them.
macro_rules! take_function {
    () => {
        "local function take(queue, busy, most) \
           local taken = redis.call('LRANGE', queue, -most, -1) \
           if #taken > 0 then \
             redis.call('LTRIM', queue, 0, -#taken - 1) \
             redis.call('RPUSH', busy, unpack(taken)) \
           end \
           return taken \
         end "
    };
}

/// Lua: `outcomes(first_key, first_arg)` groups the outcomes by destination, in the order
/// given, and checks that every queue among them (a destination without an expiry: a reply
/// list, always given one, is the gateway's own key and is not looked at) is a list or none:
/// it answers an error naming the first that is not, before the script writes anything, since
/// Lua would not take back a request removed from the busy list before a push that failed. `push(outcomes)` then pushes
/// them, one `LPUSH` per destination, and sets each destination's expiry once. Outcome i goes
/// to KEYS[first_key + i - 1]; it is ARGV[first_arg + 2(i - 1)], its expiry in ms (0 for none)
/// the next argument; an empty outcome pushes nothing.
macro_rules! push_outcomes_function {
    () => {
        "local function outcomes(first_key, first_arg) \
           local order, by_key, expire = {}, {}, {} \
           for i = first_key, #KEYS do \
             local n = first_arg + (i - first_key) * 2 \
             local key = KEYS[i] \
             if ARGV[n] ~= '' then \
               if not by_key[key] then \
                 if ARGV[n + 1] == '0' then \
                   local kind = redis.call('TYPE', key).ok \
                   if kind ~= 'list' and kind ~= 'none' then \
                     return nil, redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. kind .. ', not a list') \
                   end \
                 end \
                 by_key[key] = {} order[#order + 1] = key \
               end \
               table.insert(by_key[key], ARGV[n]) \
             end \
             if ARGV[n + 1] ~= '0' then expire[key] = ARGV[n + 1] end \
           end \
           return {order = order, by_key = by_key, expire = expire} \
         end \
         local function push(grouped) \
           for _, key in ipairs(grouped.order) do redis.call('LPUSH', key, unpack(grouped.by_key[key])) end \
           for key, ms in pairs(grouped.expire) do redis.call('PEXPIRE', key, ms) end \
         end "
    };
}

/// Outcomes pushed on their own, apart from their requests' busy list: KEYS[i] the
/// destination of outcome i, ARGV[2i - 1] the outcome, ARGV[2i] its expiry in ms (0 for none).
pub const PUSH_OUTCOMES: &str = concat!(
    push_outcomes_function!(),
    "local grouped, refused = outcomes(1, 1) \
     if refused then return refused end \
     push(grouped) return 0"
);

/// What the finish scripts record of tracked answers, on its own: KEYS[1] the tracked
/// messages' counter (only to say where they live), ARGV `mark_done`'s arguments.
pub const RECORD_DONE: &str = concat!(mark_done_function!(), "mark_done(1) return 0");

/// KEYS[1] the queue, KEYS[2] the busy list, ARGV[1] the most to take.
pub const TAKE: &str = concat!(
    take_function!(),
    "return take(KEYS[1], KEYS[2], tonumber(ARGV[1]))"
);

/// Some of the requests in hand are finished: KEYS[1] the busy list, KEYS[2..] their outcomes'
/// destinations; ARGV[1 .. #KEYS - 1] the requests, removed from the busy list one by one, then
/// the outcomes from ARGV[#KEYS], then what tracking records (`mark_done`'s arguments, none
/// when nothing finished was tracked).
pub const FINISH_SOME: &str = concat!(
    push_outcomes_function!(),
    mark_done_function!(),
    "local grouped, refused = outcomes(2, #KEYS) \
     if refused then return refused end \
     for i = 1, #KEYS - 1 do redis.call('LREM', KEYS[1], 1, ARGV[i]) end \
     push(grouped) mark_done(#KEYS + 2 * (#KEYS - 1)) return 0"
);

/// Every request in hand is finished (under load, the common case), and more are taken in the
/// same script: KEYS[1] the busy list, deleted whole rather than searched; KEYS[2] the queue;
/// KEYS[3..] the outcomes' destinations; ARGV[1] the most to take (0: none), the outcomes from
/// ARGV[2], then what tracking records. Answers the requests taken.
pub const FINISH_ALL_AND_TAKE: &str = concat!(
    push_outcomes_function!(),
    mark_done_function!(),
    take_function!(),
    "local grouped, refused = outcomes(3, 2) \
     if refused then return refused end \
     redis.call('DEL', KEYS[1]) push(grouped) mark_done(2 + 2 * (#KEYS - 2)) \
     local most = tonumber(ARGV[1]) \
     if most == 0 then return {} end \
     return take(KEYS[2], KEYS[1], most)"
);

/// `EVAL source` on `keys` with `args`.
pub fn script(source: &str, keys: Vec<String>, args: Vec<RespValue>) -> RespValue {
    let mut command = Vec::with_capacity(3 + keys.len() + args.len());
    command.extend([
        RespValue::from("EVAL"),
        RespValue::from(source),
        RespValue::from(keys.len().to_string()),
    ]);
    command.extend(keys.into_iter().map(RespValue::from));
    command.extend(args);
    RespValue::Array(command)
}
