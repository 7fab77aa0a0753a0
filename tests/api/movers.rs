//! The movers (lpush, mpush, mbalance) as child processes on a real Redis: order kept end to
//! end, where each message goes, and a mover killed between its move and its delivery.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{unique_prefix, until, TestApp, TestRedis};

/// A mover process on `redis` under `prefix` with the variables given.
fn mover(redis: &TestRedis, prefix: &str, env: &[(&str, &str)]) -> TestApp {
    TestApp::builder()
        .redis(&redis.url(), prefix)
        .env("HEARTBEAT_MS", "200")
        .envs(env)
        .start_process()
}

/// `LPUSH`es `messages` onto `list`, the first one oldest, in one command.
fn produce(redis: &TestRedis, list: &str, messages: &[String]) {
    let mut args = vec!["LPUSH", list];
    args.extend(messages.iter().map(String::as_str));
    // LPUSH answers the list's length: at least what was pushed.
    let length: usize = redis.cli(&args).parse().expect("a length");
    assert!(length >= messages.len());
}

/// What `list` holds, oldest first (the right end first).
fn oldest_first(redis: &TestRedis, list: &str) -> Vec<String> {
    let all = redis.cli(&["LRANGE", list, "0", "-1"]);
    let mut messages: Vec<String> = all.lines().map(str::to_owned).collect();
    messages.reverse();
    messages
}

async fn until_length(redis: &TestRedis, list: &str, length: usize) {
    until(
        Duration::from_secs(10),
        &format!("{list} holds {length}"),
        || async { (redis.cli(&["LLEN", list]) == length.to_string()).then_some(()) },
    )
    .await;
}

#[actix_rt::test]
async fn lpush_moves_every_message_in_order() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("lpush");
    let (input, output) = (format!("{prefix}in"), format!("{prefix}out"));
    let messages: Vec<String> = (0..1000).map(|n| format!("message {n}")).collect();
    produce(&redis, &input, &messages[..500]);
    let _mover = mover(&redis, &prefix, &[("LPUSH_IN", "in"), ("LPUSH_OUT", "out")]);
    until_length(&redis, &output, 500).await;
    // Then one by one, as a slow producer would: each goes through the blocking move.
    for message in &messages[500..510] {
        produce(&redis, &input, std::slice::from_ref(message));
    }
    produce(&redis, &input, &messages[510..]);
    until_length(&redis, &output, 1000).await;
    assert_eq!(oldest_first(&redis, &output), messages);
    assert_eq!(redis.cli(&["LLEN", &input]), "0");
}

#[actix_rt::test]
async fn mpush_copies_every_message_to_every_output_in_order() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("mpush");
    let messages: Vec<String> = (0..300).map(|n| format!("m{n}")).collect();
    produce(&redis, &format!("{prefix}in"), &messages[..200]);
    let _mover = mover(
        &redis,
        &prefix,
        &[("MPUSH_IN", "in"), ("MPUSH_OUT", "a,b,c")],
    );
    produce(&redis, &format!("{prefix}in"), &messages[200..]);
    for output in ["a", "b", "c"] {
        let list = format!("{prefix}{output}");
        until_length(&redis, &list, 300).await;
        assert_eq!(oldest_first(&redis, &list), messages, "{output}");
    }
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}in")]), "0");
}

#[actix_rt::test]
async fn mbalance_sends_each_message_to_the_shortest_output_ties_to_the_first() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("mbalance");
    let filled = |list: &str, count: usize| {
        let old: Vec<String> = (0..count).map(|n| format!("old{n}")).collect();
        produce(&redis, &format!("{prefix}{list}"), &old);
    };
    filled("a", 5);
    filled("c", 2);
    let messages: Vec<String> = (1..=6).map(|n| format!("m{n}")).collect();
    produce(&redis, &format!("{prefix}in"), &messages);
    let _mover = mover(
        &redis,
        &prefix,
        &[("MBALANCE_IN", "in"), ("MBALANCE_OUT", "a,b,c")],
    );
    until_length(&redis, &format!("{prefix}in"), 0).await;
    // Lengths 5, 0, 2: m1 and m2 to b (1, 2), m3 to b on the tie with c (3), m4 to c (3),
    // m5 to b on the tie (4), m6 to c (4).
    assert_eq!(
        oldest_first(&redis, &format!("{prefix}b")),
        ["m1", "m2", "m3", "m5"]
    );
    let c = oldest_first(&redis, &format!("{prefix}c"));
    assert_eq!(c, ["old0", "old1", "m4", "m6"]);
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}a")]), "5");
}

#[actix_rt::test]
async fn an_mpush_killed_between_its_move_and_its_delivery_delivers_once_at_the_next_start() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("mpush-killed");
    let env = [("MPUSH_IN", "in"), ("MPUSH_OUT", "a,b")];
    let mut doomed = mover(&redis, &prefix, &env);
    until(Duration::from_secs(5), "the mover registers", || async {
        (redis.cli(&["ZCARD", &format!("{prefix}workers")]) == "1").then_some(())
    })
    .await;
    // Frozen while it waits on an empty input: Redis still carries out the move it waits on.
    doomed.signal("STOP");
    produce(&redis, &format!("{prefix}in"), &["only".to_owned()]);
    let pending = until(Duration::from_secs(5), "the message is pending", || async {
        let busy = redis.cli(&["KEYS", &format!("{{{prefix}in}}:busy:*")]);
        (!busy.is_empty()).then_some(busy)
    })
    .await;
    assert_eq!(redis.cli(&["LRANGE", &pending, "0", "-1"]), "only");
    doomed.kill();
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}a")]), "0");

    let _next = mover(&redis, &prefix, &env);
    for output in ["a", "b"] {
        until_length(&redis, &format!("{prefix}{output}"), 1).await;
    }
    // Three more heartbeats: nothing arrives twice.
    actix_rt::time::sleep(Duration::from_millis(600)).await;
    for output in ["a", "b"] {
        assert_eq!(oldest_first(&redis, &format!("{prefix}{output}")), ["only"]);
    }
    assert_eq!(redis.cli(&["EXISTS", &pending]), "0");
}

#[test]
fn a_mover_variable_naming_a_key_of_another_type_stops_the_program_naming_it() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("mover-type");
    redis.cli(&["SET", &format!("{prefix}not-a-list"), "text"]);
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .envs([
            ("IP", "127.0.0.1"),
            ("PORT", "0"),
            ("REDIS_PREFIX", &prefix),
        ])
        .envs([("REDIS_URL", redis.url().as_str())])
        .envs([("MBALANCE_IN", "in"), ("MBALANCE_OUT", "a,not-a-list")])
        .stdin(Stdio::null())
        .output()
        .expect("switchyard runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "MBALANCE_OUT names {prefix}not-a-list, which holds a string"
        )),
        "{stderr}"
    );
}

/// A mover from `in` to `outputs` (by `env`) while `wrong` (one of them) holds a string: the
/// messages wait, none is lost or delivered in part, the failure is logged once; once `wrong`
/// is deleted every message arrives, in order (`each_output_gets_all`: mpush, lpush) or spread
/// (mbalance).
async fn an_output_of_another_type_loses_nothing(
    name: &str,
    env: &[(&str, &str)],
    outputs: &[&str],
    wrong: &str,
    each_output_gets_all: bool,
) {
    let redis = TestRedis::start();
    let prefix = unique_prefix(name);
    let key = |list: &str| format!("{prefix}{list}");
    let app = mover(&redis, &prefix, env);
    until(Duration::from_secs(5), "the mover registers", || async {
        (redis.cli(&["ZCARD", &key("workers")]) == "1").then_some(())
    })
    .await;
    redis.cli(&["SET", &key(wrong), "not a list"]);
    let messages: Vec<String> = (0..8).map(|n| format!("{name}{n}")).collect();
    for message in &messages {
        produce(&redis, &key("in"), std::slice::from_ref(message));
    }
    until(Duration::from_secs(5), "the failure is logged", || async {
        (!app.logged("WRONGTYPE").is_empty()).then_some(())
    })
    .await;
    // A few retries later: still all waiting, nothing delivered anywhere, logged once.
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    let pending = redis.cli(&["KEYS", &format!("{{{prefix}in}}:busy:*")]);
    let mut waiting = redis.cli(&["LLEN", &key("in")]).parse::<usize>().unwrap();
    if !pending.is_empty() {
        waiting += redis.cli(&["LLEN", &pending]).parse::<usize>().unwrap();
    }
    assert_eq!(waiting, messages.len(), "every message waits");
    for output in outputs.iter().filter(|output| **output != wrong) {
        assert_eq!(redis.cli(&["LLEN", &key(output)]), "0", "{output}");
    }
    let logged = app.logged("WRONGTYPE");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains(&key(wrong)), "{}", logged[0]);

    redis.cli(&["DEL", &key(wrong)]);
    if each_output_gets_all {
        for output in outputs {
            until_length(&redis, &key(output), messages.len()).await;
            assert_eq!(oldest_first(&redis, &key(output)), messages, "{output}");
        }
    } else {
        until_length(&redis, &key("in"), 0).await;
        let mut spread: Vec<String> = outputs
            .iter()
            .flat_map(|output| oldest_first(&redis, &key(output)))
            .collect();
        spread.sort();
        assert_eq!(spread, messages);
    }
    assert_eq!(app.logged("moves again").len(), 1);
}

#[actix_rt::test]
async fn lpush_to_an_output_of_another_type_loses_nothing() {
    let env = [("LPUSH_IN", "in"), ("LPUSH_OUT", "out")];
    an_output_of_another_type_loses_nothing("lpush-type", &env, &["out"], "out", true).await;
}

#[actix_rt::test]
async fn mpush_to_an_output_of_another_type_delivers_to_none_until_fixed() {
    let env = [("MPUSH_IN", "in"), ("MPUSH_OUT", "a,b")];
    an_output_of_another_type_loses_nothing("mpush-type", &env, &["a", "b"], "b", true).await;
}

#[actix_rt::test]
async fn mbalance_to_an_output_of_another_type_loses_nothing() {
    let env = [("MBALANCE_IN", "in"), ("MBALANCE_OUT", "a,b")];
    an_output_of_another_type_loses_nothing("mbalance-type", &env, &["a", "b"], "b", false).await;
}
