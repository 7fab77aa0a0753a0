//! A main and forwarders as real processes on loopback; a main that refuses, one that never
//! answers, one that comes back.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::helpers::{free_ports, TestApp};
use awc::http::Method;
use serde_json::json;
use switchyard_actors::kvs::keyvalue::MAX_VALUE_BYTES;

/// What a forwarder must answer, in each dialect, when it cannot reach the main.
pub async fn assert_unavailable(forwarder: &TestApp) {
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let form = (method == Method::PUT).then_some("val=1");
        let started = Instant::now();
        let kvs = forwarder.request(method.clone(), "/kvs/foo", form).await;
        assert_eq!(kvs.status, 404, "{method} /kvs: {}", kvs.text());
        let expected = json!({"msg": "error", "error": "service is not available"});
        assert_eq!(kvs.json(), expected);

        let kv_store = forwarder
            .request(method.clone(), "/kv-store/foo", form)
            .await;
        assert_eq!(kv_store.status, 501, "{method} /kv-store");
        let expected = json!({"result": "Error", "msg": "Server unavailable"});
        assert_eq!(kv_store.json(), expected);
        // The deadline for the unavailable answer, two requests' worth.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{method} took too long"
        );
    }
}

#[actix_rt::test]
async fn a_forwarder_relays_every_request_to_the_main() {
    let main = TestApp::builder().start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();

    let created = forwarder.put_val("/kvs/foo", "bart").await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json(), json!({"replaced": 0, "msg": "success"}));
    assert_eq!(main.stored("foo").await.as_deref(), Some("bart"));

    let replaced = forwarder.put_val("/kv-store/foo", "baz").await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.json()["replaced"], "True");

    let found = forwarder.get("/kv-store/foo").await;
    assert_eq!(found.json(), json!({"result": "Success", "value": "baz"}));
    assert_eq!(forwarder.stored("foo").await.as_deref(), Some("baz"));

    assert_eq!(main.delete("/kvs/foo").await.status, 200);
    let gone = forwarder.get("/kvs/foo").await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json(),
        json!({"msg": "error", "error": "key does not exist"})
    );
    let gone = forwarder.delete("/kv-store/foo").await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json(),
        json!({"result": "Error", "msg": "Key does not exist"})
    );
}

#[actix_rt::test]
async fn a_forwarder_relays_the_largest_value_whole() {
    let main = TestApp::builder().start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port()), ("ISMAIN", "False")])
        .start_process();
    let largest: String = "\"é\n".repeat(MAX_VALUE_BYTES / 4);
    assert_eq!(forwarder.put_val("/kvs/big", &largest).await.status, 201);
    assert_eq!(main.stored("big").await.as_deref(), Some(largest.as_str()));
    assert_eq!(
        forwarder.stored("big").await.as_deref(),
        Some(largest.as_str())
    );
}

#[actix_rt::test]
async fn a_forwarder_refuses_bad_input_like_the_main() {
    let main = TestApp::builder().start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    main.put_val("/kvs/foo", "old").await;

    let bad_key = forwarder.put_val("/kvs/a-b", "v").await;
    assert_eq!(bad_key.status, 400);
    assert_eq!(bad_key.json()["error"], "key not valid");
    let missing = forwarder
        .request(Method::PUT, "/kv-store/foo", Some(""))
        .await;
    assert_eq!(missing.status, 403);
    let large = forwarder
        .put_val("/kvs/foo", &"v".repeat(MAX_VALUE_BYTES + 1))
        .await;
    assert_eq!(large.status, 413);
    let malformed = forwarder
        .request(Method::PUT, "/kvs/foo", Some("val=%"))
        .await;
    assert_eq!(malformed.status, 400);

    assert_eq!(main.stored("foo").await.as_deref(), Some("old"));
}

#[actix_rt::test]
async fn a_refused_main_is_unavailable() {
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let forwarder = TestApp::builder()
        .forwarding_to(&closed_port.to_string())
        .start();
    assert_unavailable(&forwarder).await;
}

#[actix_rt::test]
async fn a_silent_main_is_unavailable_within_the_deadline() {
    // The kernel completes connections into the backlog; nothing ever reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let forwarder = TestApp::builder()
        .forwarding_to(&silent.local_addr().unwrap().to_string())
        .start();
    assert_unavailable(&forwarder).await;
}

#[actix_rt::test]
async fn forwarders_recover_when_the_main_comes_back() {
    let mut main = TestApp::builder().start_process();
    let main_addr = main.host_port().to_owned();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", &main_addr)])
        .start_process();
    assert_eq!(forwarder.put_val("/kvs/foo", "bart").await.status, 201);

    main.kill();
    assert_unavailable(&forwarder).await;

    let port = main_addr.rsplit(':').next().unwrap();
    let main = TestApp::builder().envs(&[("PORT", port)]).start_process();
    // The store lived in the old main's memory: the key is gone, and the forwarder says so.
    assert_eq!(forwarder.get("/kvs/foo").await.status, 404);
    assert_eq!(forwarder.put_val("/kvs/foo", "back").await.status, 201);
    assert_eq!(main.stored("foo").await.as_deref(), Some("back"));
}

#[actix_rt::test]
async fn a_stopped_forwarder_does_not_affect_the_others() {
    let main = TestApp::builder().start_process();
    let mut first = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    let second = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    assert_eq!(first.put_val("/kvs/foo", "one").await.status, 201);

    first.kill();
    assert_eq!(second.stored("foo").await.as_deref(), Some("one"));
    assert_eq!(second.put_val("/kvs/foo", "two").await.status, 200);
    assert_eq!(main.stored("foo").await.as_deref(), Some("two"));
}

#[actix_rt::test]
async fn a_forwarder_pointed_at_a_forwarder_answers_unavailable_at_once() {
    // Pointed at itself: every relayed request would come back to be relayed again.
    let port = free_ports(1).start().to_string();
    let own = format!("127.0.0.1:{port}");
    let looped = TestApp::builder()
        .envs(&[("PORT", &port), ("MAINIP", &own)])
        .start_process();

    let started = Instant::now();
    assert_unavailable(&looped).await;
    // Six requests, each refused on its first turn, not after the 1.5 s forward timeout.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let relayed = looped
        .send(
            Method::GET,
            "/kvs/foo",
            &[("x-switchyard-relayed", "1")],
            Vec::new(),
        )
        .await;
    assert_eq!(relayed.status, 508);
    assert_eq!(
        relayed.json(),
        json!({"msg": "error", "error": "this instance forwards too: MAINIP must name the main instance"})
    );
}
