//! `rediss://`: the server's certificate checked against `REDIS_CA_FILE`.

use std::time::{Duration, Instant};

use crate::helpers::{unique_prefix, until, TestApp, TlsRedis};

#[actix_rt::test]
async fn the_cache_works_over_tls_checked_against_the_ca_file() {
    let redis = TlsRedis::start("cache");
    let prefix = unique_prefix("tls-cache");
    let app = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &redis.url()),
            ("REDIS_PREFIX", &prefix),
            ("REDIS_CA_FILE", &redis.ca_file),
        ])
        .start_process();
    assert_eq!(app.get("/set").await.status, 200);
    let stored = redis.server.cli(&["GET", &format!("{prefix}message")]);
    assert!(stored.starts_with("this message"), "{stored:?}");
    assert_eq!(app.get("/get").await.status, 200);
}

#[actix_rt::test]
async fn a_certificate_another_ca_signed_is_refused_in_time_and_logged_once() {
    let redis = TlsRedis::start("wrong-ca");
    let prefix = unique_prefix("tls-wrong");
    let app = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &redis.url()),
            ("REDIS_PREFIX", &prefix),
            ("REDIS_CA_FILE", &redis.wrong_ca_file),
        ])
        .start_process();
    for _ in 0..3 {
        let started = Instant::now();
        let reply = app.get("/set").await;
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    assert_eq!(redis.server.cli(&["DBSIZE"]), "0");
    until(Duration::from_secs(5), "the refusal is logged", || async {
        (!app.logged("REDIS_URL (rediss at 127.0.0.1").is_empty()).then_some(())
    })
    .await;
    // More refusals after it was logged: none is logged again.
    for _ in 0..3 {
        assert_eq!(app.get("/set").await.status, 503);
    }
    let logged = app.logged("REDIS_URL (rediss at 127.0.0.1");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("certificate"), "{logged:?}");
}
