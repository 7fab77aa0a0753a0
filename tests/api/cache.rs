//! `/set` and `/get` against a real Redis.

use std::time::Duration;

use crate::helpers::{unique_prefix, until, TestApp, TestRedis};
use serde_json::json;

const MESSAGE: &str = "this message will self-destruct in 10 seconds";

#[actix_rt::test]
async fn get_before_set_is_404() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("get404"))
        .start();
    let reply = app.get("/get").await;
    assert_eq!(reply.status, 404);
    let expected = json!({"msg": "error", "error": "no message: it has expired or was never set"});
    assert_eq!(reply.json(), expected);
}

#[actix_rt::test]
async fn set_stores_the_message_with_a_ten_second_expiry() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("set");
    let app = TestApp::builder().redis(&redis.url(), &prefix).start();

    let set = app.get("/set").await;
    assert_eq!(set.status, 200);
    assert_eq!(set.json(), json!({"msg": "success", "message": MESSAGE}));

    let key = format!("{prefix}message");
    assert_eq!(redis.cli(&["GET", &key]), MESSAGE);
    let ttl: i64 = redis.cli(&["TTL", &key]).parse().unwrap();
    assert!((9..=10).contains(&ttl), "TTL {ttl}");

    let got = app.get("/get").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.content_type, "text/plain; charset=utf-8");
    assert_eq!(got.text(), MESSAGE);
}

#[actix_rt::test]
async fn the_message_expires() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("expiry"))
        .config(|config| {
            config.cache_ttl = Duration::from_secs(1);
        })
        .start();
    let set = app.get("/set").await;
    assert_eq!(
        set.json()["message"],
        "this message will self-destruct in 1 seconds"
    );
    assert_eq!(app.get("/get").await.status, 200);

    until(Duration::from_secs(5), "the message expires", || async {
        (app.get("/get").await.status != 200).then_some(())
    })
    .await;
    assert_eq!(app.get("/get").await.status, 404);
}

#[actix_rt::test]
async fn instances_sharing_a_prefix_share_the_message_and_others_do_not() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("shared");
    let first = TestApp::builder().redis(&redis.url(), &prefix).start();
    let second = TestApp::builder().redis(&redis.url(), &prefix).start();
    let other = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("other"))
        .start();

    assert_eq!(first.get("/set").await.status, 200);
    assert_eq!(second.get("/get").await.text(), MESSAGE);
    assert_eq!(other.get("/get").await.status, 404);
}
