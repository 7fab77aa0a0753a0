//! `/kvs` with the key as a field, as the course's later clients send it: `PUT /kvs` with the
//! form fields `key` and `value`, `GET` and `DELETE /kvs?key=<key>`, answered as `/kvs/<key>`.

use crate::helpers::{form_encode, Reply, TestApp};
use awc::http::Method;
use serde_json::json;
use switchyard_actors::kvs::keyvalue::MAX_VALUE_BYTES;

fn error(text: &str) -> serde_json::Value {
    json!({"msg": "error", "error": text})
}

const GIVEN_TWICE: &str = "key given twice: name it once, in the path or as one key field";

/// PUT /kvs with `key` and `value` form-encoded.
async fn put_fields(app: &TestApp, key: &str, value: &str) -> Reply {
    let form = format!("key={}&value={}", form_encode(key), form_encode(value));
    app.request(Method::PUT, "/kvs", Some(&form)).await
}

#[actix_rt::test]
async fn put_get_delete_with_the_key_as_a_field() {
    let app = TestApp::builder().start();
    let created = put_fields(&app, "foo", "bart").await;
    assert_eq!(created.status, 201);
    assert_eq!(created.text(), r#"{"replaced":0,"msg":"success"}"#);

    let found = app.get("/kvs?key=foo").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.text(), r#"{"msg":"success","value":"bart"}"#);

    let replaced = put_fields(&app, "foo", "baz").await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.json(), json!({"replaced": 1, "msg": "success"}));
    // One store: the path form sees what the field form wrote.
    assert_eq!(app.stored("foo").await.as_deref(), Some("baz"));

    let deleted = app.delete("/kvs?key=foo").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json(), json!({"msg": "success"}));
    for gone in [
        app.get("/kvs?key=foo").await,
        app.delete("/kvs?key=foo").await,
    ] {
        assert_eq!(gone.status, 404);
        assert_eq!(gone.json(), error("key does not exist"));
    }
    assert_eq!(app.stored("foo").await, None);
}

#[actix_rt::test]
async fn a_put_may_name_its_key_in_the_query_and_a_trailing_slash_changes_nothing() {
    let app = TestApp::builder().start();
    let reply = app
        .request(Method::PUT, "/kvs?key=foo", Some("value=in+query"))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(app.stored("foo").await.as_deref(), Some("in query"));
    let reply = app
        .request(Method::PUT, "/kvs/", Some("key=foo&value=slash"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(app.get("/kvs/?key=foo").await.json()["value"], "slash");
}

#[actix_rt::test]
async fn fields_are_form_decoded_and_values_keep_every_character() {
    let app = TestApp::builder().start();
    let text = "a b&c=d+e%f\n\"quoted\" é ✓ key=x";
    assert_eq!(put_fields(&app, "odd_key", text).await.status, 201);
    assert_eq!(app.stored("odd_key").await.as_deref(), Some(text));
    // `%5F` is `_`: the field is decoded before the key's rules apply, in the query too.
    let found = app.get("/kvs?other=1&key=odd%5Fkey").await;
    assert_eq!(found.json()["value"], text);
}

#[actix_rt::test]
async fn the_key_rules_are_the_path_s() {
    let app = TestApp::builder().start();
    let longest = "k".repeat(250);
    assert_eq!(put_fields(&app, &longest, "v").await.status, 201);
    assert_eq!(app.get(&format!("/kvs?key={longest}")).await.status, 200);
    let refusals = [
        ("k".repeat(251), "key too long"),
        ("-".repeat(251), "key too long"),
        ("a-b".into(), "key not valid"),
        ("a b".into(), "key not valid"),
        ("é".into(), "key not valid"),
        (String::new(), "key not valid"),
    ];
    for (key, text) in refusals {
        let put = put_fields(&app, &key, "v").await;
        assert_eq!((put.status, put.json()), (400, error(text)), "PUT {key:?}");
        let query = format!("/kvs?key={}", form_encode(&key));
        for method in [Method::GET, Method::DELETE] {
            let reply = app.request(method.clone(), &query, None).await;
            assert_eq!(
                (reply.status, reply.json()),
                (400, error(text)),
                "{method} {key:?}"
            );
        }
    }
    // A key that is not UTF-8 once decoded has characters outside the charset.
    assert_eq!(app.get("/kvs?key=%FF").await.json(), error("key not valid"));
}

#[actix_rt::test]
async fn a_missing_empty_or_oversized_value_changes_nothing() {
    let app = TestApp::builder().start();
    put_fields(&app, "foo", "old").await;
    // `val` is the path form's field; with the key as a field the value is `value`.
    for form in [
        "key=foo",
        "key=foo&value=",
        "key=foo&val=new",
        "key=foo&value",
    ] {
        let reply = app.request(Method::PUT, "/kvs", Some(form)).await;
        assert_eq!(
            (reply.status, reply.json()),
            (400, error("value is missing")),
            "{form}"
        );
    }
    let large = put_fields(&app, "foo", &"v".repeat(MAX_VALUE_BYTES + 1)).await;
    assert_eq!(
        (large.status, large.json()),
        (413, error("value too large"))
    );
    assert_eq!(app.get("/kvs?key=foo").await.json()["value"], "old");
    assert_eq!(put_fields(&app, "fresh", "").await.status, 400);
    assert_eq!(app.stored("fresh").await, None);
}

#[actix_rt::test]
async fn a_key_in_the_path_and_a_field_is_400_and_changes_nothing() {
    let app = TestApp::builder().start();
    put_fields(&app, "foo", "old").await;
    put_fields(&app, "bar", "other").await;
    let puts = [
        ("/kvs/foo", "key=foo&val=new"),
        ("/kvs/foo?key=foo", "val=new"),
        ("/kvs?key=foo", "key=foo&value=new"),
        ("/kvs?key=foo", "key=fresh&value=new"),
    ];
    for (path, form) in puts {
        let reply = app.request(Method::PUT, path, Some(form)).await;
        assert_eq!(
            (reply.status, reply.json()),
            (400, error(GIVEN_TWICE)),
            "{path} {form}"
        );
    }
    for method in [Method::GET, Method::DELETE] {
        let reply = app.request(method.clone(), "/kvs/foo?key=bar", None).await;
        assert_eq!(
            (reply.status, reply.json()),
            (400, error(GIVEN_TWICE)),
            "{method}"
        );
    }
    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));
    assert_eq!(app.stored("bar").await.as_deref(), Some("other"));
    assert_eq!(app.stored("fresh").await, None);
}

#[actix_rt::test]
async fn a_field_given_twice_or_badly_escaped_is_malformed_and_changes_nothing() {
    let app = TestApp::builder().start();
    put_fields(&app, "foo", "old").await;
    let puts = [
        ("/kvs", "key=foo&key=foo&value=new"),
        ("/kvs", "key=foo&value=new&value=newer"),
        ("/kvs", "key=fo%zz&value=new"),
        ("/kvs?key=foo&key=bar", "value=new"),
        ("/kvs?key=%4", "value=new"),
        ("/kvs?key=foo", "value=%FF"),
    ];
    for (path, form) in puts {
        let reply = app.request(Method::PUT, path, Some(form)).await;
        let expected = (400, error("malformed request"));
        assert_eq!((reply.status, reply.json()), expected, "{path} {form}");
    }
    for method in [Method::GET, Method::DELETE] {
        for path in ["/kvs?key=foo&key=foo", "/kvs?key=f%zzoo"] {
            let reply = app.request(method.clone(), path, None).await;
            let expected = (400, error("malformed request"));
            assert_eq!((reply.status, reply.json()), expected, "{method} {path}");
        }
    }
    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));
}

#[actix_rt::test]
async fn no_key_anywhere_is_still_key_not_valid() {
    let app = TestApp::builder().start();
    let put = app.request(Method::PUT, "/kvs", Some("value=v")).await;
    assert_eq!((put.status, put.json()), (400, error("key not valid")));
    for path in ["/kvs", "/kvs?other=1", "/kvs?keys=foo"] {
        for method in [Method::GET, Method::DELETE] {
            let reply = app.request(method.clone(), path, None).await;
            assert_eq!(
                (reply.status, reply.json()),
                (400, error("key not valid")),
                "{path}"
            );
        }
    }
}

#[actix_rt::test]
async fn the_older_dialect_takes_its_key_from_the_path_only() {
    let app = TestApp::builder().start();
    app.put_val("/kv-store/foo", "bart").await;
    let found = app.get("/kv-store/foo?key=bar").await;
    assert_eq!(found.json(), json!({"result": "Success", "value": "bart"}));
    let put = app
        .request(Method::PUT, "/kv-store", Some("key=bar&value=v"))
        .await;
    assert_eq!(put.status, 403);
    assert_eq!(
        put.json(),
        json!({"result": "Error", "msg": "Key not valid"})
    );
    assert_eq!(app.stored("bar").await, None);
}

#[actix_rt::test]
async fn a_forwarder_serves_the_key_as_a_field_too() {
    let main = TestApp::builder().start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    let created = put_fields(&forwarder, "foo", "bart").await;
    assert_eq!(
        (created.status, created.json()),
        (201, json!({"replaced": 0, "msg": "success"}))
    );
    assert_eq!(main.stored("foo").await.as_deref(), Some("bart"));
    let found = forwarder.get("/kvs?key=foo").await;
    assert_eq!(found.json(), json!({"msg": "success", "value": "bart"}));

    let twice = forwarder
        .request(Method::PUT, "/kvs/foo", Some("key=foo&val=new"))
        .await;
    assert_eq!((twice.status, twice.json()), (400, error(GIVEN_TWICE)));
    let no_value = forwarder
        .request(Method::PUT, "/kvs", Some("key=foo"))
        .await;
    assert_eq!(no_value.status, 400);
    assert_eq!(main.stored("foo").await.as_deref(), Some("bart"));

    assert_eq!(forwarder.delete("/kvs?key=foo").await.status, 200);
    assert_eq!(main.stored("foo").await, None);
    assert_eq!(forwarder.get("/kvs?key=foo").await.status, 404);
}
