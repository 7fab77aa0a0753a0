//! `rediss://`: the server's certificate checked against `REDIS_CA_FILE`.

use super::refused_and_logged_once;
use crate::helpers::{unique_prefix, TestApp, TlsRedis};

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
    let logged = refused_and_logged_once(&app, "REDIS_URL (rediss at 127.0.0.1").await;
    assert!(logged.contains("certificate"), "{logged}");
    assert_eq!(redis.server.cli(&["DBSIZE"]), "0");
}
