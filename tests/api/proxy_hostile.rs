//! The proxy against clients and registry entries that misbehave: they reach no server they
//! should not, and cost the other clients nothing.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::json;

use crate::helpers::{
    answer_every_request, form, free_ports, jpeg, raw_request, refusing_port, register_for_good,
    spawn, unique_prefix, until_served, with_proxy, TestApp, TestRedis, BOUNDARY,
};

/// Whether anything connected to `listener` (which must not block).
fn anyone_connected(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    listener.accept().is_ok()
}

/// The answer to one raw request, read until the connection closes.
fn raw_answer(base: &str, request: &[u8]) -> String {
    let mut stream = raw_request(base, request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer}"))
}

#[actix_rt::test]
async fn a_target_that_is_not_a_path_goes_to_no_server() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("targets");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    // A backend on its own loopback address, and a listener on port 80 of that address: where
    // `GET *` used to go.
    let host = format!(
        "127.{}.{}.{}",
        1 + std::process::id() % 250,
        80,
        1 + std::process::id() % 200
    );
    let port_80 =
        TcpListener::bind((host.as_str(), 80)).expect("binds port 80 (tests run as root)");
    let backend = TcpListener::bind((host.as_str(), 0)).unwrap();
    let backend_url = format!("http://{}", backend.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in backend.incoming().map_while(Result::ok) {
            std::thread::spawn(move || answer_every_request(stream, 2, &AtomicUsize::new(0)));
        }
    });
    register_for_good(&redis, &prefix, &backend_url);
    let proxy = app.proxy();
    until_served(&proxy, 1).await;

    let refused =
        json!({"msg": "error", "error": "the request target must be a path, e.g. /index.html"});
    for target in [
        "GET *",
        "GET http://127.0.0.1:6379/",
        "CONNECT 127.0.0.1:80",
        "DELETE *",
    ] {
        let request = format!("{target} HTTP/1.1\r\nHost: proxy\r\nCookie: secret=1\r\n\r\n");
        let answer = raw_answer(&proxy.base, request.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 400"), "{target}: {answer}");
        assert_eq!(json_body(&answer), refused, "{target}");
    }
    let options = raw_answer(
        &proxy.base,
        b"OPTIONS * HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n",
    );
    assert!(options.starts_with("HTTP/1.1 200"), "{options}");
    assert!(
        options
            .to_lowercase()
            .contains("\r\nallow: get, head, post"),
        "{options}"
    );
    assert!(
        !anyone_connected(&port_80),
        "a request went to port 80 of the backend's host"
    );
}

#[actix_rt::test]
async fn malformed_registry_entries_are_never_connected_to_and_warned_about_once() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("entries");
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    let trap_port = trap.local_addr().unwrap().port();
    let malformed = [
        format!("http://127.0.0.1:{trap_port}/admin"),
        format!("http://user:pw@127.0.0.1:{trap_port}"),
        format!("http://127.0.0.1:{trap_port}*"),
        format!("http://127.0.0.1:{trap_port}?x=1"),
        format!("127.0.0.1:{trap_port}"),
        format!("https://127.0.0.1:{trap_port}"),
    ];
    for entry in &malformed {
        register_for_good(&redis, &prefix, entry);
    }
    let proxy_port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("PROXY_PORT", &proxy_port)])
        .start_process();
    let served = spawn(&app).await;
    let proxy = app.proxy();
    until_served(&proxy, 10).await;
    // Several refreshes (every 250 ms) later, still one warning per entry.
    actix_rt::time::sleep(Duration::from_secs(1)).await;
    for _ in 0..10 {
        let reply = proxy.get("/").await;
        assert_eq!(format!("http://{}", reply.served_by), served);
    }
    assert!(
        !anyone_connected(&trap),
        "a malformed entry was connected to"
    );
    let warnings = app.logged("ignoring a malformed registry entry");
    assert_eq!(warnings.len(), malformed.len(), "{warnings:#?}");
    let listed = app.get("/listservers").await.json();
    assert_eq!(listed, json!([served]));
}

/// A POST to `/upload` whose body stops after 10 of its 100 declared bytes; `how` ends it.
fn broken_upload(base: &str, how: fn(TcpStream)) {
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: proxy\r\nContent-Type: multipart/form-data; \
         boundary={BOUNDARY}\r\nContent-Length: 100\r\n\r\n0123456789"
    );
    how(raw_request(base, head.as_bytes()));
}

#[actix_rt::test]
async fn a_clients_own_fault_is_its_4xx_and_pauses_no_server() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("client-faults");
    let proxy_port = free_ports(1).start().to_string();
    let env = [
        ("PROXY_PORT", proxy_port.as_str()),
        ("CLIENT_TIMEOUT_MS", "500"),
    ];
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&env)
        .start_process();
    spawn(&app).await;
    spawn(&app).await;
    let proxy = app.proxy();
    until_served(&proxy, 2).await;

    for _ in 0..20 {
        // The body ends (the client closes its side) before its length is reached.
        broken_upload(&proxy.base, |mut stream| {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        });
        // The client goes away mid-body.
        broken_upload(&proxy.base, drop);
        let both = "POST /upload HTTP/1.1\r\nHost: proxy\r\nContent-Length: 5\r\n\
                    Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert!(raw_answer(&proxy.base, both.as_bytes()).starts_with("HTTP/1.1 400"));
    }
    // The body stalls past CLIENT_TIMEOUT_MS.
    broken_upload(&proxy.base, |mut stream| {
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert_eq!(json_body(&answer)["error"], "request body timed out");
    });

    // Both servers are still in the rotation, and nobody was blamed.
    let mut counts = std::collections::HashMap::new();
    let client = TestApp::connect(&proxy.base);
    for _ in 0..10 {
        let reply = client.get("/").await;
        assert_eq!(reply.status, 200);
        *counts.entry(reply.served_by).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!(counts.values().all(|&n| n == 5), "{counts:?}");
    // Nothing above debug: the one warning is start-up's note that ADMIN_TOKEN is unset.
    let mut warnings = app.logged(" WARN ");
    warnings.retain(|line| !line.contains("ADMIN_TOKEN is not set"));
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[actix_rt::test]
async fn any_request_is_retried_when_no_connection_could_be_made() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("connect-retry");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    spawn(&app).await;
    // Two registrations whose servers are gone: their ports refuse connections.
    let gone = [refusing_port(), refusing_port()];
    for (_, port) in &gone {
        register_for_good(&redis, &prefix, &format!("http://127.0.0.1:{port}"));
    }
    let proxy = app.proxy();
    until_served(&proxy, 1).await;
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    for i in 0..6 {
        let body = form(&[("image", "image/jpeg", &jpeg(&format!("retried{i}")))]);
        let headers = [("content-type", content_type.as_str())];
        let reply = proxy.send(Method::POST, "/upload", &headers, body).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}images")]), "6");
}

#[actix_rt::test]
async fn a_failing_server_is_logged_when_it_starts_failing_and_when_it_answers_again() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("failing-log");
    let proxy_port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("PROXY_PORT", &proxy_port)])
        .start_process();
    spawn(&app).await;
    let (gone, port) = refusing_port();
    let gone_url = format!("http://127.0.0.1:{port}");
    register_for_good(&redis, &prefix, &gone_url);
    let proxy = app.proxy();
    // Past two pauses: the server is tried, and fails, again and again.
    let until = Instant::now() + Duration::from_millis(4500);
    while Instant::now() < until {
        assert_eq!(proxy.get("/").await.status, 200);
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.logged(&format!("{gone_url} failed a request")).len(), 1);

    gone.listen(128).unwrap();
    let back: TcpListener = gone.into();
    std::thread::spawn(move || {
        for stream in back.incoming().map_while(Result::ok) {
            std::thread::spawn(move || answer_every_request(stream, 2, &AtomicUsize::new(0)));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.logged(&format!("{gone_url} answers again")).is_empty() {
        assert!(Instant::now() < deadline, "recovery not logged");
        assert_eq!(proxy.get("/").await.status, 200);
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.logged(&format!("{gone_url} failed a request")).len(), 1);
}
