//! `/kv-store/<key>`: the older dialect over the same store.

use crate::helpers::TestApp;
use awc::http::Method;
use serde_json::json;
use switchyard_actors::kvs::keyvalue::MAX_VALUE_BYTES;

#[actix_rt::test]
async fn put_get_delete_cycle() {
    let app = TestApp::builder().start();

    let created = app.put_val("/kv-store/foo", "bart").await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json(),
        json!({"replaced": "False", "msg": "New key created"})
    );

    let replaced = app.put_val("/kv-store/foo", "baz").await;
    assert_eq!(replaced.status, 200);
    let expected = json!({"replaced": "True", "msg": "Value of existing key replaced"});
    assert_eq!(replaced.json(), expected);

    let found = app.get("/kv-store/foo").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.json(), json!({"result": "Success", "value": "baz"}));

    let deleted = app.delete("/kv-store/foo").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json(), json!({"result": "Success"}));

    for reply in [
        app.get("/kv-store/foo").await,
        app.delete("/kv-store/foo").await,
    ] {
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.json(),
            json!({"result": "Error", "msg": "Key does not exist"})
        );
    }
}

#[actix_rt::test]
async fn both_dialects_share_one_store() {
    let app = TestApp::builder().start();
    assert_eq!(app.put_val("/kvs/shared", "one").await.status, 201);
    let replaced = app.put_val("/kv-store/shared", "two").await;
    assert_eq!(replaced.json()["replaced"], "True");
    assert_eq!(app.stored("shared").await.as_deref(), Some("two"));
    assert_eq!(app.delete("/kv-store/shared").await.status, 200);
    assert_eq!(app.stored("shared").await, None);
}

#[actix_rt::test]
async fn a_200_character_key_is_valid_and_201_is_not() {
    let app = TestApp::builder().start();
    let longest = format!("/kv-store/{}", "k".repeat(200));
    assert_eq!(app.put_val(&longest, "v").await.status, 201);
    assert_eq!(app.get(&longest).await.status, 200);
    // The other dialect keeps its own limit of 250.
    assert_eq!(
        app.put_val(&format!("/kvs/{}", "k".repeat(201)), "v")
            .await
            .status,
        201
    );
}

#[actix_rt::test]
async fn invalid_keys_are_403() {
    let app = TestApp::builder().start();
    let too_long = format!("/kv-store/{}", "k".repeat(201));
    let far_too_long = format!("/kv-store/{}", "k".repeat(251));
    let paths = ["/kv-store/a-b", "/kv-store/", &too_long, &far_too_long];
    for path in paths {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let form = (method == Method::PUT).then_some("val=1");
            let reply = app.request(method.clone(), path, form).await;
            assert_eq!(reply.status, 403, "{method} {path}");
            assert_eq!(
                reply.json(),
                json!({"result": "Error", "msg": "Key not valid"})
            );
        }
    }
    assert_eq!(app.stored(&"k".repeat(201)).await, None);
}

#[actix_rt::test]
async fn bad_values_and_bodies_change_nothing() {
    let app = TestApp::builder().start();
    app.put_val("/kv-store/foo", "old").await;

    let missing = app
        .request(Method::PUT, "/kv-store/foo", Some("other=1"))
        .await;
    assert_eq!(missing.status, 403);
    assert_eq!(
        missing.json(),
        json!({"result": "Error", "msg": "No value provided"})
    );

    let large = app
        .put_val("/kv-store/foo", &"v".repeat(MAX_VALUE_BYTES + 1))
        .await;
    assert_eq!(large.status, 413);
    assert_eq!(
        large.json(),
        json!({"result": "Error", "msg": "Value too large"})
    );

    let malformed = app
        .request(Method::PUT, "/kv-store/foo", Some("val=%G1"))
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        malformed.json(),
        json!({"result": "Error", "msg": "Malformed request"})
    );

    let wrong_method = app
        .request(Method::POST, "/kv-store/foo", Some("val=new"))
        .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.json()["result"], "Error");

    assert_eq!(app.stored("foo").await.as_deref(), Some("old"));
}
