//! The load-balancing proxy against a real Redis and real app servers.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{
    free_ports, raw_backend, raw_request, spawn, unique_prefix, until, TestApp, TestRedis,
};
use awc::http::Method;
use futures_util::future::join_all;
use serde_json::json;
use switchyard::config::Config;

fn proxy_config(config: &mut Config) {
    config.proxy_port = Some(0);
    config.spawn_ports = free_ports(10);
}

/// Waits until the proxy has sent requests to `count` different servers in a row.
async fn until_proxy_knows(proxy: &TestApp, count: usize) {
    let what = format!("the proxy learns {count} servers");
    until(Duration::from_secs(5), &what, || async {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..count {
            let reply = proxy.get("/").await;
            if reply.status == 200 {
                seen.insert(reply.served_by);
            }
        }
        (seen.len() == count).then_some(())
    })
    .await;
}

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
        .config(proxy_config)
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
        .config(proxy_config)
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
async fn destroying_a_server_under_load_fails_no_request() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("drain"))
        .config(proxy_config)
        .start();
    for _ in 0..3 {
        spawn(&app).await;
    }
    let proxy_base = app.proxy_base.clone().unwrap();
    until_proxy_knows(&app.proxy(), 3).await;

    let stop_at = Instant::now() + Duration::from_millis(1500);
    let clients = (0..4).map(|_| {
        let client = TestApp::connect(&proxy_base);
        async move {
            let mut seen = Vec::new();
            while Instant::now() < stop_at {
                let started = Instant::now();
                let reply = client.get("/").await;
                seen.push((started, reply.status, reply.served_by));
            }
            seen
        }
    });
    let destroy = async {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        let reply = app.request(Method::POST, "/destroy", None).await;
        assert_eq!(reply.status, 200);
        (
            Instant::now(),
            reply.json()["url"].as_str().unwrap().to_owned(),
        )
    };
    let (seen, (destroyed_at, destroyed)) = futures_util::join!(join_all(clients), destroy);
    let seen: Vec<_> = seen.into_iter().flatten().collect();
    assert!(seen.len() > 20, "only {} requests", seen.len());
    assert!(
        seen.iter().all(|(_, status, _)| *status == 200),
        "a request failed"
    );
    let destroyed_host = destroyed.trim_start_matches("http://");
    let late = seen
        .iter()
        .filter(|(started, _, by)| *started > destroyed_at && by == destroyed_host)
        .count();
    assert_eq!(
        late, 0,
        "{destroyed} served requests after destroy answered"
    );
    let port = destroyed.rsplit(':').next().unwrap();
    assert!(TcpStream::connect(format!("127.0.0.1:{port}")).is_err());
}

#[actix_rt::test]
async fn a_killed_server_costs_no_get_and_drops_out_of_the_list() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("killed");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| {
            proxy_config(config);
            config.heartbeat = Duration::from_millis(200);
        })
        .start();
    let survivor = spawn(&app).await;
    // Another instance that registers itself, then dies without a word.
    let port = free_ports(1).start().to_string();
    let url = format!("http://127.0.0.1:{port}");
    let env = [
        ("PORT", port.as_str()),
        ("REGISTER_URL", &url),
        ("HEARTBEAT_MS", "200"),
    ];
    let mut doomed = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&env)
        .start_process();
    let proxy = app.proxy();
    until_proxy_knows(&proxy, 2).await;

    doomed.kill();
    for _ in 0..10 {
        let reply = proxy.get("/").await;
        assert_eq!(reply.status, 200);
        assert_eq!(format!("http://{}", reply.served_by), survivor);
    }
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        let listed = app.get("/listservers").await.json();
        if listed == json!([survivor]) {
            break;
        }
        assert!(Instant::now() < deadline, "{url} is still listed: {listed}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn a_spawn_reaches_another_instances_proxy_within_a_second() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("reach");
    let spawner = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
        .start();
    let other = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
        .start();
    spawn(&spawner).await;
    let proxy = other.proxy();
    until_proxy_knows(&proxy, 1).await;

    let new = spawn(&spawner).await;
    let spawned_at = Instant::now();
    let new_host = new.trim_start_matches("http://");
    while proxy.get("/").await.served_by != new_host {
        assert!(
            spawned_at.elapsed() < Duration::from_secs(1),
            "{new} not reached through the other proxy within 1 s"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_rt::test]
async fn two_proxies_on_one_registry_spread_evenly() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("two");
    let first = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
        .start();
    let second = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
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
async fn no_server_is_503_and_only_failing_servers_are_502() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("empty");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
        .start();
    let proxy = app.proxy();
    // Until the proxy has read the (empty) registry, it answers that it does not know it yet.
    let no_server = json!({"msg": "error", "error": "no server is registered"});
    until(
        Duration::from_secs(2),
        "503 no server is registered",
        || async {
            let reply = proxy.get("/").await;
            (reply.status == 503 && reply.json() == no_server).then_some(())
        },
    )
    .await;

    // A registration whose server is gone: nothing listens on its port.
    let closed = free_ports(1).start().to_string();
    let key = format!("{prefix}servers");
    let url = format!("http://127.0.0.1:{closed}");
    redis.cli(&["ZADD", &key, "99999999999999", &url]);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let reply = proxy.get("/").await;
        if reply.status == 502 {
            assert_eq!(
                reply.json(),
                json!({"msg": "error", "error": "no registered server answered"})
            );
            break;
        }
        assert_eq!(reply.status, 503);
        assert!(Instant::now() < deadline, "the proxy never tried {url}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn with_redis_down_the_proxy_serves_from_the_last_list_and_catches_up() {
    let mut redis = TestRedis::start();
    let prefix = unique_prefix("redisdown");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
        .start();
    spawn(&app).await;
    let proxy = app.proxy();
    until_proxy_knows(&proxy, 1).await;

    redis.stop();
    actix_rt::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(proxy.get("/").await.text(), "hello world");

    // A proxy that never read the list has nothing to go on.
    let late = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
        .start();
    let reply = late.proxy().get("/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json()["error"],
        "the server list is not known yet (redis unavailable)"
    );

    // Redis back, empty: the renewals register the first server again, and both proxies
    // catch up with it and with one spawned now.
    redis.start_again();
    spawn(&app).await;
    until_proxy_knows(&proxy, 2).await;
    until_proxy_knows(&late.proxy(), 2).await;
}

#[actix_rt::test]
async fn hop_by_hop_headers_stay_behind_and_x_forwarded_for_is_added() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("headers");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(proxy_config)
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
            proxy_config(config);
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
