//! The gateway against workers played by the test with plain Redis commands: the documented
//! message format is all a worker needs (docs/gateway.md).

use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::json;

use crate::helpers::{
    gateway_process, play_worker, raw_request, response_to, unique_prefix, until, TestRedis, BASE64,
};
use base64::Engine as _;

#[actix_rt::test]
async fn a_worker_that_speaks_only_redis_answers_any_bytes_through_the_gateway() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-played");
    let process = gateway_process(&redis, &prefix, &[]);
    let gateway = process.gateway();
    let queue = format!("{prefix}gateway:req");
    let answer_body: Vec<u8> = (0..=255).collect();
    let sent_answer = answer_body.clone();
    let worker = play_worker(&redis, &queue, move |request| {
        let headers = json!([
            ["content-type", "application/octet-stream"],
            ["x-worker", "played"]
        ]);
        response_to(request, 201, headers, &sent_answer)
    });
    let body = vec![0u8, 159, 146, 150, 255];
    let reply = gateway
        .send(
            Method::POST,
            "/a%20b/c?x=1&y=%2F",
            &[
                ("x-test", "yes"),
                ("content-type", "application/octet-stream"),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.body, answer_body);
    assert_eq!(reply.header("x-worker"), "played");

    let request = worker.join().unwrap();
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/a%20b/c");
    assert_eq!(request["query"], "x=1&y=%2F");
    assert_eq!(
        BASE64.decode(request["body"].as_str().unwrap()).unwrap(),
        body
    );
    let headers = request["headers"].as_array().unwrap();
    assert!(headers.contains(&json!(["x-test", "yes"])), "{headers:?}");
    assert!(
        headers.contains(&json!(["x-forwarded-for", "127.0.0.1"])),
        "{headers:?}"
    );
    let reply_to = request["reply_to"].as_str().unwrap();
    assert!(
        reply_to.starts_with(&format!("{prefix}gateway:reply:")),
        "{reply_to}"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let deadline = request["deadline_ms"].as_u64().unwrap();
    assert!(
        deadline > now_ms && deadline <= now_ms + 5000,
        "{deadline} vs {now_ms}"
    );
    assert_eq!(redis.cli(&["LLEN", &queue]), "0");
    assert_eq!(redis.cli(&["LLEN", reply_to]), "0");
}

#[actix_rt::test]
async fn no_answer_in_time_is_a_504_and_the_late_answer_never_reaches_the_next_client() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-late");
    let process = gateway_process(&redis, &prefix, &[("GATEWAY_TIMEOUT_MS", "500")]);
    let gateway = process.gateway();
    let queue = format!("{prefix}gateway:req");

    let started = Instant::now();
    let first = gateway.get("/first").await;
    assert_eq!(first.status, 504);
    assert_eq!(
        first.json(),
        json!({"msg": "error", "error": "no worker answered in time"})
    );
    assert!(started.elapsed() < Duration::from_millis(1500));

    // The first request is answered now, too late; then the second in time.
    play_worker(&redis, &queue, |request| {
        response_to(request, 200, json!([]), b"late answer to the first")
    })
    .join()
    .unwrap();
    let second = play_worker(&redis, &queue, |request| {
        assert_eq!(request["path"], "/second");
        response_to(request, 200, json!([]), b"the second's answer")
    });
    let reply = gateway.get("/second").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "the second's answer");
    let request = second.join().unwrap();
    assert_eq!(
        redis.cli(&["LLEN", request["reply_to"].as_str().unwrap()]),
        "0"
    );
}

#[actix_rt::test]
async fn a_body_over_the_limit_is_413_and_nothing_is_queued() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-body");
    let process = gateway_process(&redis, &prefix, &[("GATEWAY_MAX_BODY", "1000")]);
    let gateway = process.gateway();
    let queue = format!("{prefix}gateway:req");

    let declared = gateway.send(Method::POST, "/up", &[], vec![7; 1001]).await;
    assert_eq!(declared.status, 413);
    assert_eq!(
        declared.json(),
        json!({"msg": "error", "error": "request body too large (GATEWAY_MAX_BODY)"})
    );
    // Chunked: no length to refuse it by, so it is refused as it passes the limit.
    let chunk = format!("{:x}\r\n{}\r\n", 600, "a".repeat(600));
    let request = format!(
        "POST /up HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let mut stream = raw_request(gateway.base.as_str(), request.as_bytes());
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(redis.cli(&["LLEN", &queue]), "0");
}

#[actix_rt::test]
async fn a_header_value_that_is_not_utf8_is_a_400_and_nothing_is_queued() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-header");
    let process = gateway_process(&redis, &prefix, &[]);
    let gateway = process.gateway();
    let mut request =
        b"GET /x HTTP/1.1\r\nhost: x\r\nx-bytes: caf\xe9\r\nconnection: close\r\n\r\n".to_vec();
    let mut stream = raw_request(gateway.base.as_str(), &request);
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains(r#"{"msg":"error","error":"header values must be UTF-8"}"#),
        "{answer}"
    );
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}gateway:req")]), "0");
    request.clear();
}

#[actix_rt::test]
async fn routes_pick_the_queue_by_path_in_the_gateway_and_in_a_standalone_router() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-routes");
    let routes = ("GATEWAY_ROUTES", r"^/static/=files;^/api/v\d+/=api");
    let process = gateway_process(&redis, &prefix, &[routes]);
    let gateway = process.gateway();
    let files = play_worker(&redis, &format!("{prefix}files"), |request| {
        response_to(request, 200, json!([]), b"from files")
    });
    assert_eq!(gateway.get("/static/app.css").await.text(), "from files");
    assert_eq!(files.join().unwrap()["path"], "/static/app.css");
    let rest = play_worker(&redis, &format!("{prefix}gateway:req"), |request| {
        response_to(request, 200, json!([]), b"from the rest")
    });
    assert_eq!(gateway.get("/api/vx/no").await.text(), "from the rest");
    rest.join().unwrap();

    // A dumb gateway queues everything on `incoming`; the router moves each to its queue.
    let _router = crate::helpers::TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[routes, ("ROUTER_IN", "incoming")])
        .start_process();
    let dumb_process = gateway_process(&redis, &prefix, &[("GATEWAY_QUEUE", "incoming")]);
    let dumb = dumb_process.gateway();
    let api = play_worker(&redis, &format!("{prefix}api"), |request| {
        response_to(request, 200, json!([]), b"from api")
    });
    assert_eq!(dumb.get("/api/v2/users").await.text(), "from api");
    assert_eq!(api.join().unwrap()["path"], "/api/v2/users");
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}incoming")]), "0");
}

#[actix_rt::test]
async fn a_malformed_worker_answer_is_a_502_for_its_client_only() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-malformed");
    let process = gateway_process(&redis, &prefix, &[]);
    let gateway = process.gateway();
    let queue = format!("{prefix}gateway:req");
    let worker = play_worker(
        &redis,
        &queue,
        |request| json!({"id": request["id"], "status": 200, "body": "not base64!"}),
    );
    let reply = gateway.get("/x").await;
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply.json(),
        json!({"msg": "error", "error": "a worker answered with a malformed response"})
    );
    worker.join().unwrap();
    let worker = play_worker(
        &redis,
        &queue,
        |request| json!({"id": request["id"], "status": 1000, "headers": [], "body": ""}),
    );
    assert_eq!(gateway.get("/y").await.status, 502);
    worker.join().unwrap();
}

#[actix_rt::test]
async fn past_the_queue_cap_requests_are_refused_at_once_and_the_queue_holds_the_cap() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("gateway-cap");
    let env = [("GATEWAY_QUEUE_MAX", "2"), ("GATEWAY_TIMEOUT_MS", "2000")];
    let process = gateway_process(&redis, &prefix, &env);
    let gateway = process.gateway();
    let gateway = &gateway;
    let replies = futures_util::future::join_all((0..5).map(|n| async move {
        let started = Instant::now();
        (gateway.get(&format!("/r{n}")).await, started.elapsed())
    }))
    .await;
    let full: Vec<_> = replies.iter().filter(|(r, _)| r.status == 503).collect();
    let waited = replies.iter().filter(|(r, _)| r.status == 504).count();
    assert_eq!((full.len(), waited), (3, 2));
    for (reply, took) in full {
        assert_eq!(
            reply.json(),
            json!({"msg": "error", "error": "request queue is full"})
        );
        assert_eq!(reply.header("retry-after"), "1");
        assert!(*took < Duration::from_secs(1), "{took:?}");
    }
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}gateway:req")]), "2");
}

#[actix_rt::test]
async fn a_route_s_queue_of_another_type_holds_the_router_s_requests_until_fixed() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("router-type");
    let api = format!("{prefix}api");
    let router = crate::helpers::TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("GATEWAY_ROUTES", "^/api/=api"), ("ROUTER_IN", "incoming")])
        .start_process();
    redis.cli(&["SET", &api, "not a list"]);
    let dumb_process = gateway_process(
        &redis,
        &prefix,
        &[
            ("GATEWAY_QUEUE", "incoming"),
            ("GATEWAY_TIMEOUT_MS", "20000"),
        ],
    );
    let dumb = dumb_process.gateway();
    for n in 0..3 {
        let client = crate::helpers::TestApp::connect(&dumb.base);
        actix_rt::spawn(async move { client.get(&format!("/api/r{n}")).await });
    }
    until(Duration::from_secs(5), "the refusal is logged", || async {
        (!router.logged("WRONGTYPE").is_empty()).then_some(())
    })
    .await;
    // Retried every 250 ms meanwhile: one line per router holding requests (the process runs
    // two), not one per retry.
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    let logged = router.logged("WRONGTYPE");
    assert!((1..=2).contains(&logged.len()), "{logged:?}");
    assert!(logged[0].contains(&api), "{}", logged[0]);
    redis.cli(&["DEL", &api]);
    until(Duration::from_secs(5), "every request routed", || async {
        (redis.cli(&["LLEN", &api]) == "3").then_some(())
    })
    .await;
    until(
        Duration::from_secs(5),
        "each router says it answers again",
        || async { (router.logged("answers again").len() == logged.len()).then_some(()) },
    )
    .await;
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}incoming")]), "0");
}
