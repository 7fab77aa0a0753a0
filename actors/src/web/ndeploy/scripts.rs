//! The deployer's finish: its result written, and its id announced on the finished list.

/// Lua: the result KEYS[1] written from ARGV[4..] (field, value pairs), kept ARGV[2] seconds.
macro_rules! write_result {
    () => {
        "redis.call('DEL', KEYS[1]) \
         redis.call('HSET', KEYS[1], unpack(ARGV, 4)) \
         redis.call('EXPIRE', KEYS[1], ARGV[2]) "
    };
}

/// Lua: id ARGV[1] announced on the finished list `finished`, which keeps ARGV[3] ids.
macro_rules! announce {
    ($finished:literal) => {
        concat!(
            "redis.call('LPUSH', ",
            $finished,
            ", ARGV[1]) redis.call('LTRIM', ",
            $finished,
            ", 0, tonumber(ARGV[3]) - 1) "
        )
    };
}

/// KEYS[1] the result, KEYS[2] the busy list, KEYS[3] the finished list; ARGV[1] the id,
/// ARGV[2] the result's lifetime, ARGV[3] how many finished ids are kept, then field, value
/// pairs. The id goes onto the finished list only when it left the busy list here: a finish
/// run twice (its answer lost, then tried again) announces it once.
pub(super) const FINISH: &str = concat!(
    write_result!(),
    "if redis.call('LREM', KEYS[2], 0, ARGV[1]) > 0 then ",
    announce!("KEYS[3]"),
    "end return 1"
);

/// Where a cluster keeps those keys apart, [`FINISH`] in steps: the result ([`WRITE_RESULT`],
/// same arguments), then, if the id is still in the busy list, [`ANNOUNCE`] (KEYS[1] the
/// finished list, same arguments), then `LREM`. A deployer that dies between the last two
/// leaves the id in its busy list: deployed again and announced twice (at-least-once).
pub(super) const WRITE_RESULT: &str = concat!(write_result!(), "return 1");
pub(super) const ANNOUNCE: &str = concat!(announce!("KEYS[1]"), "return 1");
