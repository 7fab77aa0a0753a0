//! The takers' roster's Lua scripts: renewals, and busy lists put back on their queues.

use crate::redis::with_now;

/// Lua: moves every request of the busy list `busy` back onto `queue`, the oldest (right) to be
/// taken first, adding their number to `moved`.
macro_rules! move_back {
    ($busy:literal, $queue:literal) => {
        concat!(
            "while redis.call('LMOVE', ",
            $busy,
            ", ",
            $queue,
            ", 'LEFT', 'RIGHT') do moved = moved + 1 end "
        )
    };
}

/// KEYS[1] the registrations, KEYS[2..] the queues served; ARGV[1] the lifetime in ms, then
/// each queue's busy lists' name without the worker's id ([`crate::redis::busy_list`]), then this process's
/// worker ids. Renews those, then moves the busy lists (on the queues served) of up to 100
/// lapsed workers back onto their queue, and forgets them. Answers how many requests it put
/// back. Where the keys cannot be touched together (a cluster), [`RENEW`], [`MOVE_BACK`] and
/// [`FORGET_LAPSED`] take the same steps apart.
pub(super) const BEAT: &str = with_now!(
    "local queues = #KEYS - 1 \
     for i = 2 + queues, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end \
     local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100) \
     local moved = 0 \
     for _, id in ipairs(lapsed) do \
       for q = 1, queues do \
         local busy = ARGV[1 + q] .. id \
         local queue = KEYS[1 + q] ",
    move_back!("busy", "queue"),
    "  end \
       redis.call('ZREM', KEYS[1], id) \
     end return moved"
);

/// KEYS[1] the registrations; ARGV[1] the lifetime in ms, ARGV[2..] this process's worker ids.
/// Renews those, and answers up to 100 lapsed ids.
pub(super) const RENEW: &str = with_now!(
    "for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end \
     return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)"
);

/// KEYS[1] a busy list, KEYS[2] its queue: the busy list put back. Answers how many requests.
pub(super) const MOVE_BACK: &str = concat!(
    "local moved = 0 ",
    move_back!("KEYS[1]", "KEYS[2]"),
    "return moved"
);

/// KEYS[1] the registrations; ARGV the ids whose busy lists were put back: forgotten, unless
/// one renewed meanwhile.
pub(super) const FORGET_LAPSED: &str = with_now!(
    "for _, id in ipairs(ARGV) do \
       local lapses = redis.call('ZSCORE', KEYS[1], id) \
       if lapses and tonumber(lapses) <= now then redis.call('ZREM', KEYS[1], id) end \
     end return 0"
);

/// KEYS[1] a busy list, KEYS[2] its queue, KEYS[3] the registrations; ARGV[1] its worker's id.
/// Puts the busy list back unless that worker is registered and live. Where the keys cannot be
/// touched together, a `ZSCORE` then [`MOVE_BACK`].
pub(super) const RECOVER_ORPHAN: &str = with_now!(
    "local lapses = redis.call('ZSCORE', KEYS[3], ARGV[1]) \
     if lapses and tonumber(lapses) > now then return 0 end \
     local moved = 0 ",
    move_back!("KEYS[1]", "KEYS[2]"),
    "return moved"
);
