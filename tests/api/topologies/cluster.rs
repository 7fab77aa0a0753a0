//! The Redis layer on a real Redis Cluster (3 masters, a replica each): commands routed by
//! slot, `MOVED` and `ASK` followed, a killed master followed to its promoted replica, a frozen
//! master holding back only its own slots, driving the layer directly; a seed that is not a
//! cluster node, given to a process.

use std::time::{Duration, Instant};

use redis_async::resp_array;
use switchyard_actors::error::ActorError;
use switchyard_actors::redis::{Redis, RedisConfig, COMMAND_TIMEOUT};

use super::refused_and_logged_once;
use crate::helpers::{unique_prefix, until, ClusterSet, TestApp, TestRedis};

fn handle(url: &str) -> Redis {
    Redis::new(RedisConfig::from_url(url, "c:").unwrap())
}

async fn set(redis: &Redis, key: &str, value: &str) -> Result<String, ActorError> {
    redis.command(resp_array!["SET", key, value]).await
}

async fn get(redis: &Redis, key: &str) -> Result<Option<String>, ActorError> {
    redis.command(resp_array!["GET", key]).await
}

/// `SET key value`, answered once the master's replica holds it too (`WAIT` on the connection
/// the write went on): what a failover then keeps.
async fn set_on_a_replica_too(redis: &Redis, key: &str, value: &str) {
    let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT;
    let script = "return redis.call('SET', KEYS[1], ARGV[1])";
    let written: String = redis
        .eval_by_replicated(deadline, script, &[key.to_owned()], vec![value.into()])
        .await
        .unwrap();
    assert_eq!(written, "OK");
}

#[actix_rt::test]
async fn commands_go_to_the_master_serving_their_slot() {
    let cluster = ClusterSet::start("routing", Duration::from_secs(5));
    let redis = handle(&cluster.url());
    for n in 0..200 {
        set(&redis, &format!("key{n}"), &format!("value{n}"))
            .await
            .unwrap();
    }
    for n in 0..200 {
        let key = format!("key{n}");
        // Read on the master that serves the key, not through a redirection.
        let master = cluster.master_of(&key);
        assert_eq!(master.cli(&["GET", &key]), format!("value{n}"));
        assert_eq!(get(&redis, &key).await.unwrap(), Some(format!("value{n}")));
    }
    let masters_with_keys = cluster
        .nodes
        .iter()
        .filter(|node| node.cli(&["ROLE"]).starts_with("master"))
        .filter(|node| node.cli(&["DBSIZE"]) != "0")
        .count();
    assert_eq!(masters_with_keys, 3, "the keys spread over every master");

    // A script goes where its keys are; keys of two slots are refused by Redis, not lost.
    let tagged: i64 = redis
        .command(resp_array![
            "EVAL",
            "redis.call('SET', KEYS[1], 'a') redis.call('SET', KEYS[2], 'b') return 2",
            "2",
            "{order7}:x",
            "{order7}:y"
        ])
        .await
        .unwrap();
    assert_eq!(tagged, 2);
    assert_eq!(
        cluster.master_of("{order7}:y").cli(&["GET", "{order7}:y"]),
        "b"
    );
    let crossed: Result<i64, _> = redis
        .command(resp_array!["EVAL", "return 1", "2", "a", "b"])
        .await;
    assert!(matches!(crossed, Err(ActorError::Redis(_))), "{crossed:?}");
}

#[actix_rt::test]
async fn a_slot_that_moved_is_followed() {
    let cluster = ClusterSet::start("moved", Duration::from_secs(5));
    let redis = handle(&cluster.url());
    let key = "moving";
    set(&redis, key, "before").await.unwrap();
    let slot = cluster.cli(&["CLUSTER", "KEYSLOT", key]);
    let source = cluster.master_of(key);
    let target = cluster
        .nodes
        .iter()
        .find(|n| n.cli(&["ROLE"]).starts_with("master") && n.port != source.port)
        .unwrap();
    let (source_id, target_id) = (
        source.cli(&["CLUSTER", "MYID"]),
        target.cli(&["CLUSTER", "MYID"]),
    );

    // Halfway: the slot is migrating and the key already moved: the source answers ASK.
    target.cli(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id]);
    source.cli(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id]);
    let moved = source.cli(&[
        "MIGRATE",
        "127.0.0.1",
        &target.port.to_string(),
        key,
        "0",
        "5000",
    ]);
    assert_eq!(moved, "OK");
    assert_eq!(
        get(&redis, key).await.unwrap().as_deref(),
        Some("before"),
        "ASK followed"
    );

    // Done: every node says the target serves the slot; the handle's map says the source.
    for node in &cluster.nodes {
        node.cli(&["CLUSTER", "SETSLOT", &slot, "NODE", &target_id]);
    }
    set(&redis, key, "after").await.unwrap();
    assert_eq!(
        target.cli(&["GET", key]),
        "after",
        "MOVED followed to the new owner"
    );
    assert_eq!(get(&redis, key).await.unwrap().as_deref(), Some("after"));
}

#[actix_rt::test]
async fn a_killed_master_is_followed_to_its_promoted_replica() {
    let mut cluster = ClusterSet::start("failover", Duration::from_secs(1));
    let redis = handle(&cluster.url());
    set_on_a_replica_too(&redis, "victim", "kept").await;
    let port = cluster.master_of("victim").port;
    let index = cluster.nodes.iter().position(|n| n.port == port).unwrap();
    cluster.nodes[index].stop();
    let killed = Instant::now();
    let mut refused = 0;
    let answered = loop {
        let asked = Instant::now();
        match get(&redis, "victim").await {
            Ok(found) => break found,
            Err(ActorError::RedisUnavailable(_)) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
        assert!(asked.elapsed() < COMMAND_TIMEOUT + Duration::from_millis(250));
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no failover followed"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(answered.as_deref(), Some("kept"));
    eprintln!(
        "cluster failover followed {:?} after the kill ({refused} commands refused meanwhile)",
        killed.elapsed()
    );
}

#[actix_rt::test]
async fn a_frozen_master_is_followed_to_its_promoted_replica() {
    let cluster = ClusterSet::start("frozen-failover", Duration::from_secs(1));
    let redis = handle(&cluster.url());
    set_on_a_replica_too(&redis, "still", "here").await;
    let frozen = cluster.master_of("still");
    frozen.pause();
    // It never refuses a connection: only its silence tells, and the map read meanwhile.
    let paused = Instant::now();
    let answered = loop {
        match get(&redis, "still").await {
            Ok(found) => break found,
            Err(ActorError::RedisUnavailable(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
        assert!(paused.elapsed() < Duration::from_secs(20), "never followed");
    };
    assert_eq!(answered.as_deref(), Some("here"));
    eprintln!(
        "frozen master followed {:?} after SIGSTOP",
        paused.elapsed()
    );
    frozen.resume();
}

#[actix_rt::test]
async fn a_frozen_master_holds_back_only_its_own_slots() {
    let cluster = ClusterSet::start("frozen", Duration::from_secs(10));
    let redis = handle(&cluster.url());
    let keys: Vec<String> = (0..30).map(|n| format!("k{n}")).collect();
    for key in &keys {
        set(&redis, key, "v").await.unwrap();
    }
    let frozen = cluster.master_of(&keys[0]);
    let (mut stuck, free): (Vec<&String>, Vec<&String>) = keys
        .iter()
        .partition(|key| cluster.master_of(key).port == frozen.port);
    // Each waits its 750 ms: three stay well inside the 10 s before the node is failed.
    stuck.truncate(3);
    frozen.pause();
    for key in &stuck {
        let asked = Instant::now();
        let answer = get(&redis, key).await;
        assert!(
            matches!(answer, Err(ActorError::RedisUnavailable(_))),
            "{answer:?}"
        );
        assert!(asked.elapsed() < COMMAND_TIMEOUT + Duration::from_millis(250));
    }
    for key in &free {
        let asked = Instant::now();
        assert_eq!(get(&redis, key).await.unwrap().as_deref(), Some("v"));
        // Well under the 750 ms the frozen master's keys wait.
        assert!(
            asked.elapsed() < Duration::from_millis(300),
            "not held back"
        );
    }
    frozen.resume();
    until(
        Duration::from_secs(5),
        "the thawed master answers",
        || async { get(&redis, stuck[0]).await.ok() },
    )
    .await;
}

#[actix_rt::test]
async fn a_seed_that_is_not_a_cluster_node_is_refused_with_its_reason() {
    let plain = TestRedis::start();
    let redis = handle(&format!("redis-cluster://127.0.0.1:{}", plain.port));
    let answer = get(&redis, "k").await;
    let Err(ActorError::RedisUnavailable(cause)) = &answer else {
        panic!("{answer:?}");
    };
    let text = switchyard_actors::error::chain(cause);
    assert!(text.contains("cluster support disabled"), "{text}");
}

/// The same seed given to a process: it starts, answers 503 in time, and logs the reason once,
/// naming the variable.
#[actix_rt::test]
async fn a_process_whose_seed_is_not_a_cluster_node_logs_it_once_naming_the_variable() {
    let plain = TestRedis::start();
    let prefix = unique_prefix("cluster-not-a-node");
    let app = TestApp::builder()
        .envs(&[
            (
                "REDIS_URL",
                &format!("redis-cluster://127.0.0.1:{}", plain.port),
            ),
            ("REDIS_PREFIX", &prefix),
        ])
        .start_process();
    let logged = refused_and_logged_once(&app, "REDIS_URL (redis cluster of the seeds").await;
    assert!(logged.contains("cluster support disabled"), "{logged}");
    assert_eq!(plain.cli(&["DBSIZE"]), "0");
}
