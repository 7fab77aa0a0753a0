//! `KVS_MAX_BYTES`: a full store refuses what would grow it, in both dialects and through a
//! forwarder, and keeps everything it acknowledged.

use crate::helpers::TestApp;
use futures_util::future::join_all;
use serde_json::json;

const CAP: usize = 64 * 1024;
const VALUE_LEN: usize = 1000;

fn capped_main() -> TestApp {
    TestApp::builder()
        .config(|config| config.kvs_max_bytes = CAP)
        .start()
}

/// PUTs new keys on its own connection until the store refuses one; the keys it was given.
async fn fill(base: &str, connection: usize) -> Vec<String> {
    let client = TestApp::connect(base);
    let value = "v".repeat(VALUE_LEN);
    let mut stored = Vec::new();
    for i in 0.. {
        let key = format!("c{connection}_{i:05}");
        let reply = client.put_val(&format!("/kvs/{key}"), &value).await;
        match reply.status {
            201 => stored.push(key),
            507 => {
                assert_eq!(
                    reply.json(),
                    json!({"msg": "error", "error": "store is full"})
                );
                return stored;
            }
            other => panic!("PUT answered {other}: {}", reply.text()),
        }
    }
    unreachable!()
}

#[actix_rt::test]
async fn eight_connections_filling_at_once_never_pass_the_cap() {
    let app = capped_main();
    let fillers = (0..8).map(|connection| fill(&app.base, connection));
    let stored: Vec<String> = join_all(fillers).await.into_iter().flatten().collect();

    let held: usize = stored.iter().map(|key| key.len() + VALUE_LEN).sum();
    let entry = stored[0].len() + VALUE_LEN;
    assert!(held <= CAP, "{held} bytes held, cap {CAP}");
    // Every filler stopped at its first refusal: less than one entry's room was left.
    assert!(held > CAP - entry, "{held} bytes held, cap {CAP}");
    let value = "v".repeat(VALUE_LEN);
    for key in &stored {
        assert_eq!(
            app.stored(key).await.as_deref(),
            Some(value.as_str()),
            "{key}"
        );
    }
}

#[actix_rt::test]
async fn a_full_store_still_takes_smaller_values_and_deletes() {
    let app = capped_main();
    let stored = fill(&app.base, 0).await;
    let (first, second) = (&stored[0], &stored[1]);

    // Less than one entry's room is left.
    let entry_value = "x".repeat(VALUE_LEN);
    let old = app.put_val("/kv-store/newkey", &entry_value).await;
    assert_eq!(old.status, 507);
    assert_eq!(
        old.json(),
        json!({"result": "Error", "msg": "Store is full"})
    );
    let larger = app
        .put_val(&format!("/kvs/{first}"), &"w".repeat(2 * VALUE_LEN + 100))
        .await;
    assert_eq!(larger.status, 507);
    assert_eq!(app.stored(first).await, Some("v".repeat(VALUE_LEN)));
    assert_eq!(app.stored("newkey").await, None);

    assert_eq!(
        app.put_val(&format!("/kvs/{first}"), "small").await.status,
        200
    );
    assert_eq!(app.delete(&format!("/kvs/{second}")).await.status, 200);
    // The room both freed holds a new key.
    let fits = "f".repeat(VALUE_LEN);
    assert_eq!(app.put_val("/kvs/newkey", &fits).await.status, 201);
    assert_eq!(app.stored("newkey").await, Some(fits));
}

#[actix_rt::test]
async fn a_forwarder_passes_the_full_store_on() {
    let main = capped_main();
    fill(&main.base, 0).await;
    let forwarder = TestApp::builder().forwarding_to(main.host_port()).start();
    let entry_value = "x".repeat(VALUE_LEN);
    let reply = forwarder.put_val("/kvs/via_forwarder", &entry_value).await;
    assert_eq!(reply.status, 507);
    assert_eq!(
        reply.json(),
        json!({"msg": "error", "error": "store is full"})
    );
    let old = forwarder
        .put_val("/kv-store/via_forwarder", &entry_value)
        .await;
    assert_eq!(
        old.json(),
        json!({"result": "Error", "msg": "Store is full"})
    );
}
