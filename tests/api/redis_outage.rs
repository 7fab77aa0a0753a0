//! Redis stopping and coming back while switchyard runs.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_with_redis, TestApp};
use crate::redis_server::{unique_prefix, TestRedis};

async fn assert_redis_unavailable(app: &TestApp, path: &str) {
    let started = Instant::now();
    let reply = app.get(path).await;
    assert_eq!(reply.status, 503, "{path}");
    assert_eq!(
        reply.json(),
        json!({"msg": "error", "error": "redis unavailable"})
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{path} was slow to fail"
    );
}

#[actix_rt::test]
async fn an_outage_fails_fast_spares_the_store_and_heals_without_restart() {
    let mut redis = TestRedis::start();
    let app = spawn_with_redis(&redis.url(), &unique_prefix("outage"), |_| {});
    assert_eq!(app.get("/set").await.status, 200);

    redis.stop();
    for path in ["/get", "/set", "/recent"] {
        assert_redis_unavailable(&app, path).await;
    }
    assert_eq!(app.put_val("/kvs/foo", "bar").await.status, 201);
    assert_eq!(app.stored("foo").await.as_deref(), Some("bar"));
    assert_eq!(app.get("/").await.text(), "hello world");

    redis.start_again();
    assert_eq!(app.get("/set").await.status, 200);
    assert_eq!(app.get("/get").await.status, 200);
}

#[actix_rt::test]
async fn switchyard_starts_while_redis_is_down() {
    let mut redis = TestRedis::start();
    redis.stop();
    let app = spawn_with_redis(&redis.url(), &unique_prefix("late"), |_| {});
    assert_redis_unavailable(&app, "/get").await;
    assert_eq!(app.put_val("/kvs/foo", "bar").await.status, 201);

    redis.start_again();
    assert_eq!(app.get("/set").await.status, 200);
    assert_eq!(app.get("/get").await.status, 200);
}

#[actix_rt::test]
async fn a_redis_restart_between_requests_fails_none() {
    let mut redis = TestRedis::start();
    let app = spawn_with_redis(&redis.url(), &unique_prefix("restart"), |_| {});
    assert_eq!(app.get("/set").await.status, 200);

    redis.stop();
    redis.start_again();
    // The connection switchyard holds is dead, and Redis lost everything with its memory.
    // `/recent` is the one request that is not recorded (recording would meet the dead
    // connection first).
    assert_eq!(app.get("/recent").await.json(), serde_json::json!([]));
    assert_eq!(app.get("/get").await.status, 404);
    assert_eq!(app.get("/set").await.status, 200);
}
