//! The load-balancing proxy against a real Redis and real app servers: how it spreads
//! requests, and what it passes through.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::json;

use crate::helpers::{
    raw_backend, raw_request, spawn, unique_prefix, until, until_proxy_knows, with_proxy, TestApp,
    TestRedis,
};

async fn served_counts(proxy: &TestApp, requests: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..requests {
        *counts.entry(proxy.get("/").await.served_by).or_insert(0) += 1;
    }
    counts
}

#[actix_rt::test]
async fn thirty_gets_over_three_servers_are_ten_each() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("rr"))
        .config(with_proxy)
        .start();
    for _ in 0..3 {
        spawn(&app).await;
    }
    let proxy = app.proxy();
    until_proxy_knows(&proxy, 3).await;
    let counts = served_counts(&proxy, 30).await;
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|&n| n == 10), "{counts:?}");
}

#[actix_rt::test]
async fn the_proxy_passes_method_body_query_and_answer_through() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("passthrough");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    spawn(&app).await;
    let proxy = app.proxy();
    until_proxy_knows(&proxy, 1).await;

    let image = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let mut body =
        b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x\"\r\n\r\n".to_vec();
    body.extend_from_slice(&image);
    body.extend_from_slice(b"\r\n--b--\r\n");
    let headers = [("content-type", "multipart/form-data; boundary=b")];
    let uploaded = proxy
        .send(Method::POST, "/upload?from=proxy", &headers, body)
        .await;
    assert_eq!(uploaded.status, 201);
    assert_eq!(uploaded.json(), json!({"msg": "success", "queued": 1}));

    let meow = proxy
        .send(Method::GET, "/meow", &[("accept", "image/*")], vec![])
        .await;
    assert_eq!(meow.status, 200);
    assert_eq!(meow.content_type, "image/gif");
    assert_eq!(meow.body, image);

    let missing = proxy.get("/no/such/path").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "no such route");
}

#[actix_rt::test]
async fn a_spawn_reaches_another_instances_proxy_within_a_second() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("reach");
    let spawner = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    let other = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    spawn(&spawner).await;
    let proxy = other.proxy();
    until_proxy_knows(&proxy, 1).await;

    let new = spawn(&spawner).await;
    let new_host = new.trim_start_matches("http://");
    let what = format!("{new} reached through the other proxy");
    until(Duration::from_secs(1), &what, || async {
        (proxy.get("/").await.served_by == new_host).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn two_proxies_on_one_registry_spread_evenly() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("two");
    let first = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    let second = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    for _ in 0..3 {
        spawn(&first).await;
    }
    until_proxy_knows(&first.proxy(), 3).await;
    until_proxy_knows(&second.proxy(), 3).await;
    let (first_proxy, second_proxy) = (first.proxy(), second.proxy());
    let (a, b) = futures_util::join!(
        served_counts(&first_proxy, 30),
        served_counts(&second_proxy, 30)
    );
    let mut total: HashMap<String, usize> = a;
    for (server, n) in b {
        *total.entry(server).or_insert(0) += n;
    }
    assert_eq!(total.len(), 3, "{total:?}");
    assert!(total.values().all(|&n| n == 20), "{total:?}");
}

#[actix_rt::test]
async fn hop_by_hop_headers_stay_behind_and_x_forwarded_for_is_added() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("headers");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    let (heads, received) = std::sync::mpsc::channel();
    raw_backend(&redis, &prefix, move |head, stream| {
        heads.send(head).unwrap();
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\
                      Connection: keep-alive, x-hop\r\nX-Hop: 1\r\nX-Upstream: yes\r\n\r\nok";
        stream.write_all(answer.as_bytes()).unwrap();
    })
    .await;

    let request = "GET /some/path?q=1 HTTP/1.1\r\nHost: proxy\r\nX-Custom: kept\r\n\
                   Connection: keep-alive, x-secret\r\nX-Secret: for the next hop only\r\n\
                   TE: trailers\r\nX-Forwarded-For: 10.9.8.7\r\n\r\n";
    let mut client = raw_request(app.proxy_base.as_deref().unwrap(), request.as_bytes());
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"ok") && client.read(&mut byte).unwrap() == 1 {
        answer.push(byte[0]);
    }
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 200 ok\r\n"), "{answer}");
    assert!(answer.contains("\r\nx-upstream: yes\r\n"), "{answer}");
    assert!(
        !answer.contains("x-hop") && !answer.contains("keep-alive: timeout"),
        "{answer}"
    );

    let head = received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        head.starts_with("get /some/path?q=1 http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nx-custom: kept\r\n"), "{head}");
    assert!(
        head.contains("\r\nx-forwarded-for: 10.9.8.7, 127.0.0.1\r\n"),
        "{head}"
    );
    assert!(
        !head.contains("x-secret") && !head.contains("\r\nte:"),
        "{head}"
    );
}

#[actix_rt::test]
async fn a_body_that_stalls_is_cut_off_after_the_proxy_timeout() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("stall");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| {
            with_proxy(config);
            config.proxy_timeout = Duration::from_millis(300);
        })
        .start();
    // An answer of 100 bytes of which 10 come, then nothing.
    raw_backend(&redis, &prefix, |_, stream| {
        let start = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
        stream.write_all(start.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_secs(20));
    })
    .await;

    let mut client = raw_request(
        app.proxy_base.as_deref().unwrap(),
        b"GET / HTTP/1.1\r\nHost: proxy\r\n\r\n",
    );
    let started = Instant::now();
    let mut answer = Vec::new();
    // Without a cut-off this read waits out its own 5 s timeout and fails.
    client
        .read_to_end(&mut answer)
        .expect("the proxy closes the connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n0123456789"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
