//! Redis stopping and coming back while switchyard runs.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{jpeg, unique_prefix, until, upload, TestApp, TestRedis};
use futures_util::future::join_all;

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
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("outage"))
        .start();
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
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("late"))
        .start();
    assert_redis_unavailable(&app, "/get").await;
    assert_eq!(app.put_val("/kvs/foo", "bar").await.status, 201);

    redis.start_again();
    assert_eq!(app.get("/set").await.status, 200);
    assert_eq!(app.get("/get").await.status, 200);
}

#[actix_rt::test]
async fn a_redis_restart_between_requests_fails_none() {
    let mut redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("restart"))
        .start();
    assert_eq!(app.get("/set").await.status, 200);
    // Visits are recorded after their answer: this one is in Redis before the restart.
    until(Duration::from_secs(5), "the visit recorded", || async {
        let recent = app.get("/recent").await.json();
        (recent == json!(["GET /set"])).then_some(())
    })
    .await;

    redis.stop();
    redis.start_again();
    // The connection switchyard holds is dead, and Redis lost everything with its memory.
    // `/recent` is the one request that is not recorded (recording would meet the dead
    // connection first).
    assert_eq!(app.get("/recent").await.json(), serde_json::json!([]));
    assert_eq!(app.get("/get").await.status, 404);
    assert_eq!(app.get("/set").await.status, 200);
}

/// A JPEG of `len` bytes.
fn jpeg_of(len: usize) -> Vec<u8> {
    let mut image = jpeg("frozen");
    image.resize(len, 0);
    image
}

#[actix_rt::test]
async fn a_frozen_redis_fails_every_route_in_time_bounds_memory_and_heals() {
    const IMAGE: usize = 8 << 20;
    let redis = TestRedis::start();
    let prefix = unique_prefix("frozen");
    let max_bytes = (IMAGE + 1024).to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("IMAGE_MAX_BYTES", &max_bytes)])
        .start_process();
    assert_eq!(app.get("/set").await.status, 200);
    assert_eq!(
        upload(&app, &[("image", "image/jpeg", &jpeg_of(1000))])
            .await
            .status,
        201
    );

    redis.pause();
    for path in ["/get", "/set", "/recent", "/meow"] {
        assert_redis_unavailable(&app, path).await;
    }
    // Uploads, 16 at a time: each is refused within a second, the wait for a transfer slot
    // included (the images are small, so the time is the server's, not the upload's).
    let clients: Vec<TestApp> = (0..16).map(|_| TestApp::connect(&app.base)).collect();
    let small = jpeg_of(100_000);
    let timed = clients.iter().map(|client| async {
        let started = Instant::now();
        let reply = upload(client, &[("image", "image/jpeg", &small)]).await;
        (reply.status, started.elapsed())
    });
    for (status, took) in join_all(timed).await {
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(1), "an upload took {took:?}");
    }
    // Large uploads keep coming: the process holds no more after the tenth round than after
    // the second.
    let image = jpeg_of(IMAGE);
    let mut resident_after = Vec::new();
    for _ in 0..10 {
        let files = [("image", "image/jpeg", image.as_slice())];
        let rounds = clients.iter().map(|client| upload(client, &files));
        for reply in join_all(rounds).await {
            assert_eq!(reply.status, 503);
        }
        resident_after.push(app.resident_kib());
    }
    let grown_kib = resident_after[9].saturating_sub(resident_after[1]);
    assert!(
        grown_kib < 32 * 1024,
        "grew by {grown_kib} KiB: {resident_after:?}"
    );

    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/set").await.status != 200 {
        assert!(Instant::now() < deadline, "no recovery after SIGCONT");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.get("/get").await.status, 200);
    assert_eq!(
        upload(&app, &[("image", "image/jpeg", &jpeg_of(1000))])
            .await
            .status,
        201
    );
    // Nothing refused while Redis was frozen was queued when it woke up.
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}images")]), "2");
}
