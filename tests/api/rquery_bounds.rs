//! `/rquery`'s bounds: an answer past a string's, a hash's, a set's, a range's or the answer's
//! size is refused with 413 naming the bound, checked in Redis before anything is read; a
//! process runs at most `RQUERY_MAX_INFLIGHT` queries at once.

use futures_util::future::join;

use crate::helpers::{unique_prefix, TestApp, TestRedis};

const MIB: usize = 1024 * 1024;

/// Fills `key` (a full key) as `lua` (run with KEYS[1], ARGV[1] = `n`) does: values larger
/// than a command-line argument may be.
fn fill_with(redis: &TestRedis, lua: &str, key: &str, n: usize) {
    let answer = redis.cli(&["EVAL", lua, "1", key, &n.to_string()]);
    assert!(!answer.contains("ERR"), "{answer}");
}

#[actix_rt::test]
async fn answers_past_a_bound_are_413_naming_it_and_those_within_are_whole() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rquery-bounds");
    let key = |name: &str| format!("{prefix}public:{name}");
    let items = "for i = 1, tonumber(ARGV[1]) do redis.call('RPUSH', KEYS[1], i) end";
    fill_with(&redis, items, &key("long"), 1_001);
    let string = "redis.call('SET', KEYS[1], string.rep('x', tonumber(ARGV[1])))";
    fill_with(&redis, string, &key("big"), MIB + 1);
    fill_with(&redis, string, &key("fits"), MIB);
    let fields = "for i = 1, tonumber(ARGV[1]) do redis.call('HSET', KEYS[1], i, i) end";
    fill_with(&redis, fields, &key("wide"), 1_001);
    let field = "redis.call('HSET', KEYS[1], 'f', string.rep('x', tonumber(ARGV[1])))";
    fill_with(&redis, field, &key("deep"), MIB + 1);
    let members = "for i = 1, tonumber(ARGV[1]) do redis.call('SADD', KEYS[1], i) end";
    fill_with(&redis, members, &key("crowd"), 1_001);
    let scores = "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], i, i) end";
    fill_with(&redis, scores, &key("board"), 1_001);
    // Five items of a MiB: within the items' bound, past the answer's 4 MiB.
    let heavy =
        "for i = 1, 5 do redis.call('RPUSH', KEYS[1], string.rep('x', tonumber(ARGV[1]))) end";
    fill_with(&redis, heavy, &key("heavy"), MIB);
    let heavy_hash =
        "for i = 1, 5 do redis.call('HSET', KEYS[1], i, string.rep('x', tonumber(ARGV[1]))) end";
    fill_with(&redis, heavy_hash, &key("heavy-hash"), MIB);
    let heavy_set =
        "for i = 1, 5 do redis.call('SADD', KEYS[1], i .. string.rep('x', tonumber(ARGV[1]))) end";
    fill_with(&redis, heavy_set, &key("heavy-set"), MIB);
    let app = TestApp::builder().redis(&redis.url(), &prefix).start();

    let refused = [
        (
            "/rquery/lrange/long/0/-1",
            "the range holds more than 1000 items",
        ),
        (
            "/rquery/lrange/long/-1001/-1",
            "the range holds more than 1000 items",
        ),
        (
            "/rquery/zrange/board/0/1000",
            "the range holds more than 1000 items",
        ),
        ("/rquery/get/big", "the value is longer than 1048576 bytes"),
        (
            "/rquery/hget/deep/f",
            "the value is longer than 1048576 bytes",
        ),
        ("/rquery/hgetall/wide", "the hash has more than 1000 fields"),
        (
            "/rquery/smembers/crowd",
            "the set has more than 1000 members",
        ),
        (
            "/rquery/lrange/heavy/0/-1",
            "the answer would hold more than 4194304 bytes",
        ),
        (
            "/rquery/hgetall/heavy-hash",
            "the answer would hold more than 4194304 bytes",
        ),
        (
            "/rquery/smembers/heavy-set",
            "the answer would hold more than 4194304 bytes",
        ),
    ];
    for (path, bound) in refused {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 413, "{path}");
        assert_eq!(
            reply.json()["error"],
            format!("too large to answer: {bound}"),
            "{path}"
        );
    }
    let within = [
        ("/rquery/lrange/long/0/999", 1000),
        ("/rquery/lrange/long/1/1000", 1000),
        ("/rquery/lrange/long/5000/6000", 0),
        ("/rquery/zrange/board/-1000/-1", 1000),
        ("/rquery/lrange/heavy/0/3", 4),
    ];
    for (path, length) in within {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.json()["value"].as_array().unwrap().len(),
            length,
            "{path}"
        );
    }
    let fits = app.get("/rquery/get/fits").await;
    assert_eq!(fits.json()["value"].as_str().unwrap().len(), MIB);
    // The counts stay open: they are numbers.
    assert_eq!(app.get("/rquery/llen/long").await.json()["value"], 1001);
    // Nothing was changed by the refusals.
    assert_eq!(redis.cli(&["LLEN", &key("long")]), "1001");
}

#[actix_rt::test]
async fn a_query_past_rquery_max_inflight_waits_briefly_then_is_refused() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rquery-inflight");
    redis.cli(&["SET", &format!("{prefix}public:k"), "v"]);
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| {
            config.rquery_max_inflight = 1;
            // One thread: the bound is each thread's.
            config.workers = Some(1);
        })
        .start();
    assert_eq!(app.get("/rquery/get/k").await.json()["value"], "v");
    // Frozen, Redis holds the first query for its whole timeout.
    redis.pause();
    let (first, second) = join(app.get("/rquery/get/k"), app.get("/rquery/get/k")).await;
    redis.resume();
    let mut errors: Vec<(u16, String, String)> = [first, second]
        .iter()
        .map(|reply| {
            let error = reply.json()["error"].as_str().unwrap().to_owned();
            (reply.status, error, reply.header("retry-after").to_owned())
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            (503, "redis unavailable".into(), String::new()),
            (
                503,
                "too many queries in progress: try again shortly".into(),
                "1".into()
            ),
        ]
    );
    assert_eq!(app.get("/rquery/get/k").await.json()["value"], "v");
}
