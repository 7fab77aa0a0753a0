//! vpush's Lua scripts: the claim on the source, the delivery on the remote.

/// How long the remote remembers a message was delivered: far longer than any takeover.
pub(super) const MARK_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;

/// KEYS: the lease, the input, the pending list, its numbers (a list in the same order), the
/// sequence. ARGV: this replica, the lease's lifetime in ms, the number of a delivered message
/// to remove (or ''), how many messages to hold pending. Unless another replica holds the lease
/// (answers 'lost'): renews the lease, removes the delivered message when it is the oldest
/// pending, tops the pending list up from the input, numbers what has no number yet, and
/// answers the pending messages oldest first as {number, message, number, message, ...}.
pub(super) const DONE_AND_CLAIM: &str = "local lease, input, pending, numbers, seq = \
      KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5] \
    local holder = redis.call('GET', lease) \
    if holder and holder ~= ARGV[1] then return 'lost' end \
    redis.call('SET', lease, ARGV[1], 'PX', ARGV[2]) \
    if ARGV[3] ~= '' and redis.call('LINDEX', numbers, -1) == ARGV[3] then \
      redis.call('RPOP', pending) redis.call('RPOP', numbers) \
    end \
    local want = tonumber(ARGV[4]) \
    while redis.call('LLEN', pending) < want do \
      if not redis.call('LMOVE', input, pending, 'RIGHT', 'LEFT') then break end \
    end \
    local held = redis.call('LLEN', pending) \
    if held == 0 then redis.call('DEL', numbers) return {} end \
    for i = 1, held - redis.call('LLEN', numbers) do \
      redis.call('LPUSH', numbers, tostring(redis.call('INCR', seq))) \
    end \
    local messages = redis.call('LRANGE', pending, 0, -1) \
    local ids = redis.call('LRANGE', numbers, -held, -1) \
    local answer = {} \
    for i = held, 1, -1 do answer[#answer + 1] = ids[i] answer[#answer + 1] = messages[i] end \
    return answer";

/// On the remote. KEYS[1] the mark, KEYS[2] the output; ARGV[1] the message, ARGV[2] the mark's
/// lifetime in ms. Pushes unless the mark says it was pushed before. The push comes before the
/// mark: a push that fails (the output holds another type) writes nothing, so the retry pushes
/// again; Lua would not take back a mark written before it.
/// A delivery already marked writes the mark's lifetime again: every run writes, so a `WAIT`
/// after it, on whatever connection, covers the push it found (replication is in order).
pub(super) const DELIVER: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then \
    redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 0 end \
    redis.call('LPUSH', KEYS[2], ARGV[1]) \
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[2]) return 1";
