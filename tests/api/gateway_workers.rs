//! The gateway with switchyard's own workers, as separate processes on one Redis: many
//! requests at once, workers sharing one store through the main, a worker killed while it
//! holds requests, two gateways, and Redis stopped and started.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{
    gateway_process, meow_raw, unique_prefix, until, upload, worker_process, TestApp, TestRedis,
    PNG,
};

/// `count` concurrent PUTs then as many concurrent GETs through the gateway: each answer is its
/// own request's.
async fn each_key_through(gateway: &TestApp, main: &TestApp, tag: &str, count: usize) {
    let puts = (0..count).map(|n| async move {
        gateway
            .put_val(&format!("/kvs/{tag}{n}"), &format!("v{n}"))
            .await
    });
    for (n, reply) in join_all(puts).await.into_iter().enumerate() {
        assert_eq!(reply.status, 201, "PUT {n}: {}", reply.text());
    }
    let gets = (0..count).map(|n| async move { gateway.get(&format!("/kvs/{tag}{n}")).await });
    for (n, reply) in join_all(gets).await.into_iter().enumerate() {
        assert_eq!(reply.status, 200, "GET {n}: {}", reply.text());
        assert_eq!(reply.json()["value"], format!("v{n}"));
        assert!(
            reply.served_by.starts_with("gateway-worker "),
            "{}",
            reply.served_by
        );
    }
    assert_eq!(main.stored(&format!("{tag}0")).await.as_deref(), Some("v0"));
}

/// A main store and two worker processes forwarding to it, their workers registered.
async fn two_workers_sharing_a_main(redis: &TestRedis, prefix: &str) -> (TestApp, [TestApp; 2]) {
    let main = TestApp::builder().start_process();
    let forward = [("MAINIP", main.host_port())];
    let workers = [
        worker_process(redis, prefix, &forward),
        worker_process(redis, prefix, &forward),
    ];
    until_workers_registered(redis, prefix, 16).await;
    (main, workers)
}

/// Waits until `count` workers are registered on `redis` under `prefix`.
async fn until_workers_registered(redis: &TestRedis, prefix: &str, count: usize) {
    until(Duration::from_secs(5), "the workers register", || async {
        let registered = redis.cli(&["ZCARD", &format!("{prefix}workers")]);
        (registered == count.to_string()).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn two_worker_processes_answer_200_concurrent_requests_each_its_own() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-200");
    let (main, _workers) = two_workers_sharing_a_main(&redis, &prefix).await;
    let process = gateway_process(&redis, &prefix, &[]);
    each_key_through(&process.gateway(), &main, "k", 200).await;
    // Answered and gone: nothing left in the queue, the busy lists or the reply list.
    let left = redis.cli(&["KEYS", &format!("{prefix}gateway:*")]);
    assert_eq!(left, "", "left behind: {left}");
}

#[actix_rt::test]
async fn an_image_uploaded_through_the_gateway_comes_back_byte_identical() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-image");
    let _worker = worker_process(&redis, &prefix, &[]);
    let process = gateway_process(&redis, &prefix, &[]);
    let gateway = process.gateway();
    let uploaded = upload(&gateway, &[("image", "cat.png", PNG)]).await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.text());
    let meow = meow_raw(&gateway).await;
    assert_eq!(meow.status, 200);
    assert_eq!(meow.content_type, "image/png");
    assert_eq!(meow.body, PNG);
}

#[actix_rt::test]
async fn requests_held_by_a_worker_killed_with_sigkill_are_answered_by_another_once_each() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-kill");
    let main = TestApp::builder().start_process();
    let worker_env = [("MAINIP", main.host_port()), ("HEARTBEAT_MS", "200")];
    let mut doomed = worker_process(&redis, &prefix, &worker_env);
    let process = gateway_process(&redis, &prefix, &[("GATEWAY_TIMEOUT_MS", "20000")]);
    let gateway = process.gateway();
    until(
        Duration::from_secs(5),
        "the doomed worker waits for requests",
        || async {
            let registered = redis.cli(&["ZCARD", &format!("{prefix}workers")]);
            (registered == "8").then_some(())
        },
    )
    .await;
    // Frozen, its pending BLMOVEs still take requests into its busy lists; then it dies.
    doomed.signal("STOP");
    let count = 20;
    let gateway = &gateway;
    let puts = join_all(
        (0..count).map(|n| async move { gateway.put_val(&format!("/kvs/k{n}"), "v").await }),
    );
    let held = async {
        until(
            Duration::from_secs(5),
            "the frozen worker holds requests",
            || async {
                let busy = redis.cli(&["KEYS", &format!("{{{prefix}gateway:req}}:busy:*")]);
                (!busy.is_empty()).then_some(())
            },
        )
        .await;
        doomed.kill();
        worker_process(&redis, &prefix, &worker_env)
    };
    let (replies, rescuer) = futures_util::join!(puts, held);
    for (n, reply) in replies.into_iter().enumerate() {
        // Each client got one answer, and each key was created once (a second handling would
        // have answered 200 "replaced").
        assert_eq!(reply.status, 201, "PUT {n}: {}", reply.text());
        assert_eq!(main.stored(&format!("k{n}")).await.as_deref(), Some("v"));
    }
    let left = redis.cli(&["KEYS", &format!("{prefix}gateway:req*")]);
    assert_eq!(left, "", "left behind: {left}");
    assert!(
        !rescuer.logged("of lapsed workers put back").is_empty(),
        "the killed worker's requests were not recovered"
    );
}

#[actix_rt::test]
async fn two_gateways_on_one_redis_each_get_their_own_responses() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-two-gateways");
    let (main, _workers) = two_workers_sharing_a_main(&redis, &prefix).await;
    let (first, second) = (
        gateway_process(&redis, &prefix, &[]),
        gateway_process(&redis, &prefix, &[]),
    );
    let (first, second) = (first.gateway(), second.gateway());
    futures_util::join!(
        each_key_through(&first, &main, "a", 100),
        each_key_through(&second, &main, "b", 100),
    );
}

#[actix_rt::test]
async fn redis_stopped_answers_503_within_a_second_and_started_again_serves_again() {
    let mut redis = TestRedis::start();
    let prefix = unique_prefix("workers-redis-restart");
    let _worker = worker_process(&redis, &prefix, &[]);
    let process = gateway_process(&redis, &prefix, &[]);
    let gateway = process.gateway();
    assert_eq!(gateway.get("/").await.text(), "hello world");

    redis.stop();
    let started = Instant::now();
    let refused = gateway.get("/").await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json(),
        json!({"msg": "error", "error": "redis unavailable"})
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    redis.start_again();
    until(
        Duration::from_secs(10),
        "the gateway serves again",
        || async {
            let reply = gateway.get("/").await;
            (reply.status == 200 && reply.text() == "hello world").then_some(())
        },
    )
    .await;
}

#[actix_rt::test]
async fn a_worker_stopped_with_sigterm_exits_by_itself_and_deregisters() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-sigterm");
    let mut worker = worker_process(&redis, &prefix, &[]);
    until_workers_registered(&redis, &prefix, 8).await;
    worker.signal("TERM");
    let status = worker.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}workers")]), "0");
}

#[actix_rt::test]
async fn redis_frozen_answers_503_within_a_second_and_thawed_serves_again() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-redis-frozen");
    let _worker = worker_process(&redis, &prefix, &[]);
    let process = gateway_process(&redis, &prefix, &[]);
    let gateway = process.gateway();
    assert_eq!(gateway.get("/").await.text(), "hello world");

    redis.pause();
    let started = Instant::now();
    let refused = gateway.get("/").await;
    let took = started.elapsed();
    redis.resume();
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json(),
        json!({"msg": "error", "error": "redis unavailable"})
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    until(
        Duration::from_secs(10),
        "the gateway serves again",
        || async {
            let reply = gateway.get("/").await;
            (reply.status == 200 && reply.text() == "hello world").then_some(())
        },
    )
    .await;
}

#[actix_rt::test]
async fn requests_taken_while_a_worker_was_paused_are_answered_when_it_wakes() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("workers-pause");
    let main = TestApp::builder().start_process();
    let worker_env = [("MAINIP", main.host_port())];
    let mut paused = worker_process(&redis, &prefix, &worker_env);
    let process = gateway_process(&redis, &prefix, &[("GATEWAY_TIMEOUT_MS", "5000")]);
    let gateway = process.gateway();
    until_workers_registered(&redis, &prefix, 8).await;
    // Paused (SIGSTOP) past its commands' timers and short of its registration lapsing: Redis
    // carries out the waiting BLMOVEs, whose answers the worker's timers then drop.
    paused.signal("STOP");
    let count = 8;
    let gateway = &gateway;
    let puts = join_all(
        (0..count).map(|n| async move { gateway.put_val(&format!("/kvs/p{n}"), "v").await }),
    );
    let pause = async {
        until(
            Duration::from_secs(3),
            "the paused worker holds requests",
            || async {
                let busy = redis.cli(&["KEYS", &format!("{{{prefix}gateway:req}}:busy:*")]);
                (busy.lines().count() == count).then_some(())
            },
        )
        .await;
        actix_rt::time::sleep(Duration::from_millis(2500)).await;
        paused.signal("CONT");
    };
    let (replies, ()) = futures_util::join!(puts, pause);
    for (n, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.status, 201, "PUT {n}: {}", reply.text());
        assert_eq!(main.stored(&format!("p{n}")).await.as_deref(), Some("v"));
    }
    let left = redis.cli(&["KEYS", &format!("{prefix}gateway:req*")]);
    assert_eq!(left, "", "left behind: {left}");
}
