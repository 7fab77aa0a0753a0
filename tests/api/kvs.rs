//! `/kvs/<key>`: every row of the API table and every bad-input rule.

use crate::helpers::{form_encode, TestApp};
use awc::http::Method;
use serde_json::json;
use switchyard_actors::kvs::keyvalue::MAX_VALUE_BYTES;

#[actix_rt::test]
async fn home_page_says_hello() {
    let app = TestApp::builder().start();
    let reply = app.get("/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "hello world");
}

#[actix_rt::test]
async fn put_get_delete_cycle() {
    let app = TestApp::builder().start();

    let created = app.put_val("/kvs/foo", "bart").await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json(), json!({"replaced": 0, "msg": "success"}));
    assert_eq!(created.text(), r#"{"replaced":0,"msg":"success"}"#);

    let found = app.get("/kvs/foo").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.json(), json!({"msg": "success", "value": "bart"}));

    let replaced = app.put_val("/kvs/foo", "baz").await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.json(), json!({"replaced": 1, "msg": "success"}));
    assert_eq!(app.stored("foo").await.as_deref(), Some("baz"));

    let deleted = app.delete("/kvs/foo").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json(), json!({"msg": "success"}));

    let gone = app.get("/kvs/foo").await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json(),
        json!({"msg": "error", "error": "key does not exist"})
    );

    assert_eq!(app.put_val("/kvs/foo", "again").await.status, 201);
}

#[actix_rt::test]
async fn missing_key_is_404_for_get_and_delete() {
    let app = TestApp::builder().start();
    for reply in [
        app.get("/kvs/nobody").await,
        app.delete("/kvs/nobody").await,
    ] {
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "key does not exist"})
        );
    }
}

#[actix_rt::test]
async fn keys_are_case_sensitive() {
    let app = TestApp::builder().start();
    app.put_val("/kvs/Foo", "upper").await;
    app.put_val("/kvs/foo", "lower").await;
    assert_eq!(app.stored("Foo").await.as_deref(), Some("upper"));
    assert_eq!(app.stored("foo").await.as_deref(), Some("lower"));
}

#[actix_rt::test]
async fn a_250_character_key_is_valid_and_251_is_too_long() {
    let app = TestApp::builder().start();
    let longest = "k".repeat(250);
    assert_eq!(
        app.put_val(&format!("/kvs/{longest}"), "v").await.status,
        201
    );
    assert_eq!(app.stored(&longest).await.as_deref(), Some("v"));

    // Length is checked before characters: 251 bad characters are "too long".
    for key in ["k".repeat(251), "-".repeat(251)] {
        let reply = app.put_val(&format!("/kvs/{key}"), "v").await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "key too long"})
        );
    }
}

#[actix_rt::test]
async fn keys_outside_the_charset_are_refused_by_every_method() {
    let app = TestApp::builder().start();
    for path in [
        "/kvs/a-b",
        "/kvs/a.b",
        "/kvs/a%20b",
        "/kvs/",
        "/kvs/a/b",
        "/kvs/%C3%A9",
    ] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let form = (method == Method::PUT).then_some("val=1");
            let reply = app.request(method.clone(), path, form).await;
            assert_eq!(reply.status, 400, "{method} {path}");
            assert_eq!(
                reply.json(),
                json!({"msg": "error", "error": "key not valid"})
            );
        }
    }
}

#[actix_rt::test]
async fn a_missing_or_empty_value_changes_nothing() {
    let app = TestApp::builder().start();
    app.put_val("/kvs/foo", "old").await;
    for form in ["", "val=", "other=1", "val"] {
        let reply = app.request(Method::PUT, "/kvs/foo", Some(form)).await;
        assert_eq!(reply.status, 400, "body {form:?}");
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "value is missing"})
        );
    }
    let no_body = app.request(Method::PUT, "/kvs/foo", None).await;
    assert_eq!(no_body.status, 400);
    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));

    assert_eq!(
        app.request(Method::PUT, "/kvs/fresh", Some("val="))
            .await
            .status,
        400
    );
    assert_eq!(app.stored("fresh").await, None);
}

#[actix_rt::test]
async fn the_largest_value_fully_percent_encoded_is_stored_whole() {
    let app = TestApp::builder().start();
    // Every character encodes to three bytes: 4.5 MB on the wire for 1.5 MiB stored.
    let largest = "~".repeat(MAX_VALUE_BYTES);
    let reply = app.put_val("/kvs/big", &largest).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(app.stored("big").await.as_deref(), Some(largest.as_str()));
}

#[actix_rt::test]
async fn a_value_over_the_limit_is_413_and_changes_nothing() {
    let app = TestApp::builder().start();
    app.put_val("/kvs/foo", "old").await;
    for raw in [
        "v".repeat(MAX_VALUE_BYTES + 1),
        "~".repeat(MAX_VALUE_BYTES + 1),
    ] {
        let reply = app.put_val("/kvs/foo", &raw).await;
        assert_eq!(reply.status, 413);
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "value too large"})
        );
    }
    // A body far beyond any form is refused without being read whole.
    let huge = format!("val={}", "v".repeat(8 * MAX_VALUE_BYTES));
    let reply = app.request(Method::PUT, "/kvs/foo", Some(&huge)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));
}

#[actix_rt::test]
async fn a_malformed_body_is_400_and_changes_nothing() {
    let app = TestApp::builder().start();
    app.put_val("/kvs/foo", "old").await;
    for form in ["val=%ZZ", "val=%4", "val=%FF%FE", "val=1&val=2"] {
        let reply = app.request(Method::PUT, "/kvs/foo", Some(form)).await;
        assert_eq!(reply.status, 400, "body {form:?}");
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "malformed request"})
        );
    }
    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));
}

#[actix_rt::test]
async fn a_body_that_is_not_a_form_is_malformed() {
    let app = TestApp::builder().start();
    let reply = awc::Client::new()
        .put(format!("{}/kvs/foo", app.base))
        .content_type("application/json")
        .send_body(r#"{"val":"x"}"#)
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 400);
    assert_eq!(app.stored("foo").await, None);
}

#[actix_rt::test]
async fn a_wrong_method_is_405_and_changes_nothing() {
    let app = TestApp::builder().start();
    app.put_val("/kvs/foo", "old").await;
    for method in [Method::POST, Method::PATCH] {
        let reply = app.request(method, "/kvs/foo", Some("val=new")).await;
        assert_eq!(reply.status, 405);
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "method not allowed"})
        );
    }
    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));
}

#[actix_rt::test]
async fn values_keep_every_character() {
    let app = TestApp::builder().start();
    let text = "a b&c=d+e%f\n\"quoted\" é ✓ {json}";
    assert_eq!(app.put_val("/kvs/odd", text).await.status, 201);
    assert_eq!(app.stored("odd").await.as_deref(), Some(text));
    // `+` in a form is a space, as browsers and curl -d send it.
    app.request(Method::PUT, "/kvs/plus", Some("val=a+b")).await;
    assert_eq!(app.stored("plus").await.as_deref(), Some("a b"));
    assert_eq!(form_encode("a b"), "a%20b");
}

#[actix_rt::test]
async fn unknown_paths_are_a_json_404() {
    let app = TestApp::builder().start();
    let reply = app.get("/nowhere").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"msg": "error", "error": "no such route"})
    );
}
