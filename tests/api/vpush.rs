//! vpush between two real redis-servers: order and exactly-once delivery across a remote
//! outage, a remote frozen mid-stream, a mover killed again and again, and three replicas.

use std::time::Duration;

use crate::helpers::{unique_prefix, until, TestApp, TestRedis};

/// A vpush process from `source`'s `in` to `remote`'s `out`, keys under `prefix` on both.
fn vpush(source: &TestRedis, remote: &TestRedis, prefix: &str) -> TestApp {
    TestApp::builder()
        .redis(&source.url(), prefix)
        .envs(&[
            ("VPUSH_IN", "in"),
            ("VPUSH_URL", &remote.url()),
            ("VPUSH_OUT", "out"),
            ("HEARTBEAT_MS", "100"),
        ])
        .start_process()
}

fn messages(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("message {n}")).collect()
}

/// `LPUSH`es `batch` onto `list`, the first one oldest.
fn produce(redis: &TestRedis, list: &str, batch: &[String]) {
    for chunk in batch.chunks(500) {
        let mut args = vec!["LPUSH", list];
        args.extend(chunk.iter().map(String::as_str));
        redis.cli(&args);
    }
}

/// `list` on `redis` once it holds `count`, oldest first.
async fn delivered(redis: &TestRedis, list: &str, count: usize) -> Vec<String> {
    until(
        Duration::from_secs(30),
        &format!("{list} holds {count}"),
        || async { (redis.cli(&["LLEN", list]) == count.to_string()).then_some(()) },
    )
    .await;
    let mut all: Vec<String> = redis
        .cli(&["LRANGE", list, "0", "-1"])
        .lines()
        .map(str::to_owned)
        .collect();
    all.reverse();
    all
}

fn nothing_left(source: &TestRedis, prefix: &str) {
    assert_eq!(source.cli(&["LLEN", &format!("{prefix}in")]), "0");
    assert_eq!(
        source.cli(&["LLEN", &format!("{prefix}in:vpush:pending")]),
        "0"
    );
}

#[actix_rt::test]
async fn every_message_arrives_once_in_order_across_a_remote_outage_and_a_freeze() {
    let source = TestRedis::start();
    let mut remote = TestRedis::start();
    let prefix = unique_prefix("vpush-outage");
    let output = format!("{prefix}out");
    remote.stop();
    produce(&source, &format!("{prefix}in"), &messages(0..1000));
    let _mover = vpush(&source, &remote, &prefix);
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    remote.start_again();
    assert_eq!(delivered(&remote, &output, 1000).await, messages(0..1000));

    // Frozen mid-stream: a push may reach it and be answered only after it wakes.
    produce(&source, &format!("{prefix}in"), &messages(1000..2000));
    remote.pause();
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    remote.resume();
    assert_eq!(delivered(&remote, &output, 2000).await, messages(0..2000));
    nothing_left(&source, &prefix);
}

#[actix_rt::test]
async fn a_mover_killed_again_and_again_loses_nothing_and_duplicates_nothing() {
    let source = TestRedis::start();
    let remote = TestRedis::start();
    let prefix = unique_prefix("vpush-killed");
    produce(&source, &format!("{prefix}in"), &messages(0..3000));
    for round in 0..6u64 {
        let mut mover = vpush(&source, &remote, &prefix);
        actix_rt::time::sleep(Duration::from_millis(120 + 40 * round)).await;
        mover.kill();
    }
    let _last = vpush(&source, &remote, &prefix);
    let arrived = delivered(&remote, &format!("{prefix}out"), 3000).await;
    assert_eq!(arrived, messages(0..3000));
    nothing_left(&source, &prefix);
}

#[actix_rt::test]
async fn three_replicas_deliver_in_the_input_s_order() {
    let source = TestRedis::start();
    let remote = TestRedis::start();
    let prefix = unique_prefix("vpush-replicas");
    let _replicas = [
        vpush(&source, &remote, &prefix),
        vpush(&source, &remote, &prefix),
        vpush(&source, &remote, &prefix),
    ];
    for chunk in messages(0..2000).chunks(100) {
        produce(&source, &format!("{prefix}in"), chunk);
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    let arrived = delivered(&remote, &format!("{prefix}out"), 2000).await;
    assert_eq!(arrived, messages(0..2000));
    nothing_left(&source, &prefix);
}

#[actix_rt::test]
async fn a_message_a_dead_replica_delivered_but_did_not_remove_is_not_delivered_again() {
    let source = TestRedis::start();
    let remote = TestRedis::start();
    let prefix = unique_prefix("vpush-mark");
    // As a replica leaves things when it dies right after the remote push: the message still
    // pending with its number, the remote holding it and its mark.
    let key = |suffix: &str| format!("{prefix}in:vpush:{suffix}");
    source.cli(&["SET", &key("source"), "S"]);
    source.cli(&["LPUSH", &key("pending"), "delivered once"]);
    source.cli(&["LPUSH", &key("pending-numbers"), "7"]);
    source.cli(&["SET", &key("seq"), "7"]);
    source.cli(&["LPUSH", &format!("{prefix}in"), "next"]);
    remote.cli(&["SET", &format!("{prefix}vpush:mark:S:7"), "1"]);
    remote.cli(&["LPUSH", &format!("{prefix}out"), "delivered once"]);

    let _mover = vpush(&source, &remote, &prefix);
    let arrived = delivered(&remote, &format!("{prefix}out"), 2).await;
    assert_eq!(arrived, ["delivered once", "next"]);
    nothing_left(&source, &prefix);
}

#[actix_rt::test]
async fn an_output_of_another_type_on_the_remote_loses_nothing_and_is_logged_once() {
    let source = TestRedis::start();
    let remote = TestRedis::start();
    let prefix = unique_prefix("vpush-type");
    let output = format!("{prefix}out");
    remote.cli(&["SET", &output, "not a list"]);
    let mover = vpush(&source, &remote, &prefix);
    produce(&source, &format!("{prefix}in"), &messages(0..3));
    until(Duration::from_secs(5), "the failure is logged", || async {
        (!mover.logged("WRONGTYPE").is_empty()).then_some(())
    })
    .await;
    // Retried meanwhile (from 100 ms, doubling): still one line, and no mark written.
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(mover.logged("WRONGTYPE").len(), 1);
    assert_eq!(remote.cli(&["KEYS", &format!("{prefix}vpush:mark:*")]), "");
    remote.cli(&["DEL", &output]);
    assert_eq!(delivered(&remote, &output, 3).await, messages(0..3));
    assert_eq!(mover.logged("delivers again").len(), 1);
    nothing_left(&source, &prefix);
}
