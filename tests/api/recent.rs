//! `/recent` against a real Redis: every request recorded, newest first, capped.

use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::helpers::{get_raw, unique_prefix, until, TestApp, TestRedis};
use switchyard::config::Role;

/// Recording is fire and forget: waits until `/recent` starts with `newest`.
async fn recent_once_recorded(app: &TestApp, newest: &str) -> Json {
    let what = format!("{newest} recorded");
    until(Duration::from_secs(5), &what, || async {
        let reply = app.get("/recent").await;
        assert_eq!(reply.status, 200);
        let visits = reply.json();
        (visits[0] == newest).then_some(visits)
    })
    .await
}

#[actix_rt::test]
async fn the_five_latest_visits_newest_first() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("recent");
    let app = TestApp::builder().redis(&redis.url(), &prefix).start();

    app.get("/").await;
    app.put_val("/kvs/foo", "bar").await;
    app.get("/kvs/foo").await;
    app.get("/no/such/path").await;
    app.get("/recent").await; // not recorded
    app.delete("/kvs/foo").await;
    app.get("/get").await;

    let visits = recent_once_recorded(&app, "GET /get").await;
    let expected = json!([
        "GET /get",
        "DELETE /kvs/foo",
        "GET /no/such/path",
        "GET /kvs/foo",
        "PUT /kvs/foo"
    ]);
    assert_eq!(visits, expected);
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}visits")]), "5");
}

#[actix_rt::test]
async fn recent_size_caps_the_list_in_redis() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("cap");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| config.recent_size = 2)
        .start();
    for i in 0..20 {
        app.get(&format!("/page{i}")).await;
    }
    let visits = recent_once_recorded(&app, "GET /page19").await;
    assert_eq!(visits, json!(["GET /page19", "GET /page18"]));
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}visits")]), "2");
}

#[actix_rt::test]
async fn a_forwarded_request_is_recorded_once() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("forwarded");
    let main = TestApp::builder().redis(&redis.url(), &prefix).start();
    let main_addr = main.host_port().to_owned();
    let forwarder = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| {
            config.role = Role::Forwarder { main: main_addr };
        })
        .start();

    assert_eq!(forwarder.put_val("/kvs/relayed", "v").await.status, 201);
    recent_once_recorded(&main, "PUT /kvs/relayed").await;
    // A later request to the main: once it is recorded, a second record of the PUT (the
    // main's, had it recorded the relayed request) would have been written before it.
    main.get("/").await;
    let visits = recent_once_recorded(&main, "GET /").await;
    assert_eq!(visits, json!(["GET /", "PUT /kvs/relayed"]));
}

#[actix_rt::test]
async fn visits_to_different_threads_keep_the_order_they_arrived_in() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("recent-order");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .env("WORKERS", "2")
        .start_process();
    // A connection each: the server hands them to its two threads in turn, and each thread
    // writes its visits when its own 50 ms are up.
    for key in ["ra", "rb", "rc", "rd", "re", "rf"] {
        let (status, _) = get_raw(&app.base, &format!("/kvs/{key}"));
        assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    }
    until(Duration::from_secs(5), "every visit recorded", || async {
        let visits = app.get("/recent").await.json();
        (visits.as_array().is_some_and(|all| all.len() == 5) && visits[0] == "GET /kvs/rf")
            .then_some(())
    })
    .await;
    // Both threads' writes are in: a later write of an older visit would show now.
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.get("/recent").await.json(),
        json!([
            "GET /kvs/rf",
            "GET /kvs/re",
            "GET /kvs/rd",
            "GET /kvs/rc",
            "GET /kvs/rb"
        ])
    );
}
