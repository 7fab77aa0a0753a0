//! `/rquery`: read-only commands on keys of the public namespace, as JSON; switchyard's own keys
//! out of reach; every other command refused before Redis sees it; the same through the
//! gateway to an `RQUERY_QUEUE` worker.

use serde_json::json;

use crate::helpers::{free_ports, unique_prefix, TestApp, TestRedis};

/// Keys of the public namespace, `<prefix>public:`.
fn fill(redis: &TestRedis, prefix: &str) {
    let key = |name: &str| format!("{prefix}public:{name}");
    redis.cli(&["SET", &key("greeting"), "héllo"]);
    redis.cli(&["HSET", &key("user"), "name", "ada", "lang", "rust"]);
    redis.cli(&["RPUSH", &key("list"), "a", "b", "c"]);
    redis.cli(&["SADD", &key("set"), "x"]);
    redis.cli(&["ZADD", &key("board"), "2", "two", "1", "one"]);
    redis.cli(&["SET", &key("with space"), "spaced"]);
}

#[actix_rt::test]
async fn each_read_only_command_answers_as_json_on_keys_of_the_public_namespace() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rquery");
    fill(&redis, &prefix);
    let app = TestApp::builder().redis(&redis.url(), &prefix).start();
    let cases = [
        ("/rquery/get/greeting", json!("héllo")),
        ("/rquery/GET/missing", json!(null)),
        ("/rquery/hget/user/name", json!("ada")),
        (
            "/rquery/hgetall/user",
            json!({"name": "ada", "lang": "rust"}),
        ),
        ("/rquery/lrange/list/0/-1", json!(["a", "b", "c"])),
        ("/rquery/llen/list", json!(3)),
        ("/rquery/smembers/set", json!(["x"])),
        ("/rquery/scard/set", json!(1)),
        ("/rquery/zrange/board/0/-1", json!(["one", "two"])),
        ("/rquery/zcard/board", json!(2)),
        ("/rquery/ttl/greeting", json!(-1)),
        ("/rquery/type/user", json!("hash")),
        ("/rquery/exists/list", json!(1)),
        ("/rquery/get/with%20space", json!("spaced")),
    ];
    for (path, value) in cases {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        assert_eq!(
            reply.json(),
            json!({"msg": "success", "value": value}),
            "{path}"
        );
    }
}

#[actix_rt::test]
async fn other_commands_are_forbidden_and_bad_queries_refused_changing_nothing() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rquery-refused");
    fill(&redis, &prefix);
    let app = TestApp::builder().redis(&redis.url(), &prefix).start();
    for command in [
        "set/greeting/x",
        "del/greeting",
        "flushall/x",
        "eval/x",
        "keys/x",
        "config/get",
    ] {
        let reply = app.get(&format!("/rquery/{command}")).await;
        assert_eq!(reply.status, 403, "{command}: {}", reply.text());
        let error = reply.json()["error"].as_str().unwrap().to_owned();
        assert!(error.starts_with("command not allowed: "), "{error}");
    }
    let refused = [
        (
            "/rquery/get",
            400,
            "a key is needed: /rquery/<command>/<key>",
        ),
        (
            "/rquery/get/greeting/extra",
            400,
            "GET takes a key and nothing else",
        ),
        ("/rquery/hget/user", 400, "HGET takes a key and a field"),
        (
            "/rquery/lrange/list/0/x",
            400,
            "LRANGE takes a key, a start and a stop (integers)",
        ),
        (
            "/rquery/hgetall/list",
            400,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            "/rquery/get/%FF",
            400,
            "the path must be UTF-8 once percent-decoded",
        ),
    ];
    for (path, status, error) in refused {
        let reply = app.get(path).await;
        assert_eq!(
            (reply.status, reply.json()["error"].as_str()),
            (status, Some(error)),
            "{path}"
        );
    }
    assert_eq!(
        redis.cli(&["GET", &format!("{prefix}public:greeting")]),
        "héllo"
    );
    let keys = ["greeting", "user", "list", "set", "board", "with space"];
    let keys: Vec<String> = keys.iter().map(|k| format!("{prefix}public:{k}")).collect();
    let mut exists = vec!["EXISTS"];
    exists.extend(keys.iter().map(String::as_str));
    assert_eq!(redis.cli(&exists), "6");
}

#[actix_rt::test]
async fn a_query_routed_by_the_gateway_is_answered_by_an_rquery_worker() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rquery-worker");
    fill(&redis, &prefix);
    let port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[
            ("GATEWAY_PORT", &port),
            ("GATEWAY_ROUTES", "^/rquery/=rq"),
            ("RQUERY_QUEUE", "rq"),
        ])
        .start_process();
    let reply = app.gateway().get("/rquery/hget/user/lang").await;
    assert_eq!(reply.json(), json!({"msg": "success", "value": "rust"}));
    assert!(
        reply.served_by.starts_with("gateway-worker "),
        "{}",
        reply.served_by
    );
}

#[actix_rt::test]
async fn switchyard_s_own_keys_are_out_of_reach() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rquery-own");
    let key = |name: &str| format!("{prefix}{name}");
    // A request waiting in the gateway's queue with a client's token, the configuration hash
    // with the admin token, a deployment with credentials, a service's registration.
    let waiting = r#"{"id":"1","headers":{"authorization":"Bearer client-secret"}}"#;
    redis.cli(&["LPUSH", &key("gateway:req"), waiting]);
    redis.cli(&["HSET", &key("config"), "ADMIN_TOKEN", "admin-secret-value"]);
    redis.cli(&[
        "HSET",
        &key("ndeploy:req:1"),
        "git",
        "https://u:pw@host/r.git",
    ]);
    redis.cli(&["HSET", &key("service:1"), "host", "10.0.0.5", "pid", "77"]);
    let app = TestApp::builder().redis(&redis.url(), &prefix).start();
    for path in [
        "/rquery/lrange/gateway:req/0/-1",
        "/rquery/hget/config/ADMIN_TOKEN",
        "/rquery/hgetall/ndeploy:req:1",
        "/rquery/hgetall/service:1",
        "/rquery/get/..%2Fgateway:req",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let value = &reply.json()["value"];
        assert!(
            value.is_null() || *value == json!([]) || *value == json!({}),
            "{path}: {value}"
        );
    }
    // The public namespace is where they would have to be.
    redis.cli(&["SET", &key("public:gateway:req"), "published"]);
    let reply = app.get("/rquery/get/gateway:req").await;
    assert_eq!(reply.json()["value"], "published");
}
