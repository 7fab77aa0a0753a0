//! Stopping on a signal, as `docker stop` (SIGTERM) and Ctrl-C (SIGINT) do: registrations go at
//! once, requests in flight finish, a second signal stops at once.

use crate::helpers::{
    free_ports, half_an_upload, raw_backend, raw_request, spawn, unique_prefix, until, TestApp,
    TestRedis,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Longer than the 300 ms after which actix-web's own signal handling stopped everything.
const WELL_INTO_SHUTDOWN: Duration = Duration::from_secs(1);

/// Time for a server to accept a connection and start reading it: one still in the listen
/// backlog when the server stops is never accepted.
const UNDER_WAY: Duration = Duration::from_millis(200);

fn answer_of(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    // An error (reset, timeout) leaves what arrived before it.
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_rt::test]
async fn on_sigterm_an_upload_in_flight_on_a_spawned_server_finishes() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("drain-upload");
    let mut instance = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .start_process();
    let spawned = spawn(&instance).await;
    // The instance's own server is idle, so only the spawned server holds the shutdown up.
    let (mut upload, rest) = half_an_upload(&spawned);
    actix_rt::time::sleep(UNDER_WAY).await;

    instance.signal("TERM");
    actix_rt::time::sleep(WELL_INTO_SHUTDOWN).await;
    upload.write_all(&rest).unwrap();
    let answer = answer_of(&mut upload);
    assert!(answer.starts_with("HTTP/1.1 201 Created\r\n"), "{answer}");
    assert!(instance.wait_for_exit(Duration::from_secs(10)).success());
    let queued = redis.cli(&["LLEN", &format!("{prefix}images")]);
    assert_eq!(queued, "1");
    let registered = redis.cli(&["ZCARD", &format!("{prefix}servers")]);
    assert_eq!(registered, "0");
}

#[actix_rt::test]
async fn a_second_signal_stops_at_once() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("second-signal");
    let mut instance = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .start_process();
    let (mut stalled, _) = half_an_upload(&instance.base);
    actix_rt::time::sleep(UNDER_WAY).await;

    instance.signal("TERM");
    actix_rt::time::sleep(WELL_INTO_SHUTDOWN).await;
    assert!(
        instance.is_running(),
        "the first signal waits for the upload"
    );
    let second = Instant::now();
    instance.signal("INT");
    instance.wait_for_exit(Duration::from_secs(2));
    // Not the 8 s the upload would otherwise be given.
    assert!(
        second.elapsed() < Duration::from_secs(1),
        "{:?}",
        second.elapsed()
    );
    assert!(!answer_of(&mut stalled).contains("201"));
    let queued = redis.cli(&["LLEN", &format!("{prefix}images")]);
    assert_eq!(queued, "0");
}

#[actix_rt::test]
async fn on_sigterm_the_proxy_finishes_the_requests_it_has() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("drain-proxy");
    let proxy_port = free_ports(1).start().to_string();
    let mut instance = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("PROXY_PORT", proxy_port.as_str())])
        .start_process();
    raw_backend(&redis, &prefix, |_, stream| {
        std::thread::sleep(WELL_INTO_SHUTDOWN);
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow";
        stream.write_all(answer.as_bytes()).unwrap();
    })
    .await;

    let request = b"GET / HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n";
    let mut client = raw_request(&format!("127.0.0.1:{proxy_port}"), request);
    actix_rt::time::sleep(UNDER_WAY).await;
    instance.terminate();

    let answer = answer_of(&mut client);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nslow"), "{answer}");
}

#[actix_rt::test]
async fn a_stopping_main_acknowledges_no_more_writes_through_its_links_or_its_port() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("drain-main");
    let mut main = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    assert_eq!(forwarder.put_val("/kvs/before", "1").await.status, 201);
    // An upload in flight keeps the main up through its graceful stop, as any slow client may.
    let (_stalled, _) = half_an_upload(&main.base);
    actix_rt::time::sleep(UNDER_WAY).await;

    // Redis frozen: removing the registrations takes its 1.5 s, the port still listening.
    redis.pause();
    main.signal("TERM");
    until(
        Duration::from_secs(5),
        "the main takes the signal",
        || async { (!main.logged("SIGTERM").is_empty()).then_some(()) },
    )
    .await;
    let direct = main.put_val("/kvs/direct", "1").await;
    for n in 0..20 {
        let relayed = forwarder.put_val(&format!("/kvs/after{n}"), "1").await;
        assert_eq!(
            (relayed.status, relayed.json()["error"].as_str()),
            (404, Some("service is not available")),
            "PUT after{n} through the forwarder"
        );
    }
    redis.resume();
    assert_eq!(
        (direct.status, direct.json()["error"].as_str()),
        (503, Some("server is shutting down"))
    );
    assert!(main.is_running(), "the stop was still under way");
}
