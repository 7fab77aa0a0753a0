//! `CLIENT_TIMEOUT_MS`: a client that is slow to send a head, lets its body stall, or does not
//! read its answer is cut off, on every request of a kept-alive connection, while the others are
//! served.

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::helpers::{form_encode, TestApp};
use actix_rt::net::TcpStream;
use futures_util::future::join_all;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(2);
const HELLO: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/// Reads until the answer to `GET /` is in whole.
async fn read_hello(stream: &mut TcpStream) {
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while !answer.ends_with(b"hello world") {
        let n = stream.read(&mut buf).await.expect("an answer");
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
}

/// A kept-alive connection that finishes one request, then sends the next head one byte every
/// 500 ms (so it is never idle). Answers how long after the trickle began the server closed it.
async fn trickle(addr: SocketAddr) -> Duration {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(HELLO).await.expect("sends");
    read_hello(&mut stream).await;
    let started = Instant::now();
    let mut buf = [0u8; 512];
    for &byte in HELLO {
        if stream.write_all(&[byte]).await.is_err() {
            return started.elapsed();
        }
        match actix_rt::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => panic!("answered: nothing cut the trickled head off"),
            Err(_) => {}
        }
    }
    panic!("the whole head was trickled in without a cut-off");
}

#[actix_rt::test]
async fn two_thousand_trickled_heads_are_cut_off_while_others_are_served() {
    let app = TestApp::builder()
        .envs(&[("CLIENT_TIMEOUT_MS", "2000"), ("WORKERS", "2")])
        .start_process();
    let addr: SocketAddr = app.host_port().parse().unwrap();
    // Connected before the 2000 arrive: this measures serving, not the listen backlog.
    let client = TestApp::connect(&app.base);
    assert_eq!(client.get("/").await.status, 200);
    let tricklers = join_all((0..2000).map(|_| trickle(addr)));
    let served = async {
        let until = Instant::now() + LIMIT + Duration::from_secs(1);
        let mut answered = 0;
        while Instant::now() < until {
            let started = Instant::now();
            assert_eq!(client.get("/").await.text(), "hello world");
            assert!(started.elapsed() < Duration::from_secs(1));
            answered += 1;
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        answered
    };
    let (closed_after, answered) = futures_util::join!(tricklers, served);
    let slowest = closed_after.iter().max().unwrap();
    assert!(
        *slowest <= LIMIT + Duration::from_secs(1),
        "a trickling connection was open {slowest:?}"
    );
    assert!(answered > 10, "{answered}");
}

fn in_process(client_timeout: Duration) -> TestApp {
    TestApp::builder()
        .config(|config| config.client_timeout = client_timeout)
        .start()
}

/// Sends `request` on a new connection and reads what comes back until the server closes it;
/// fails after `limit`. Asynchronous: the test's runtime also runs the server it started.
async fn exchange(app: &TestApp, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(app.host_port()).await.expect("connects");
    stream.write_all(request).await.expect("sends");
    let mut answer = Vec::new();
    actix_rt::time::timeout(limit, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection in time")
        .expect("reads");
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_rt::test]
async fn a_body_that_stalls_is_a_408_and_changes_nothing() {
    let app = in_process(LIMIT);
    let head = "PUT /kvs/stalled HTTP/1.1\r\nHost: t\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n";
    let started = Instant::now();
    let request = format!("{head}val=only-part");
    let answer = exchange(&app, request.as_bytes(), LIMIT + Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // The answer came at the limit; closing the connection takes up to a second more.
    assert!(
        started.elapsed() <= LIMIT + Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        json!({"msg": "error", "error": "request body timed out"})
    );
    assert_eq!(app.stored("stalled").await, None);
}

#[actix_rt::test]
async fn an_answer_the_client_does_not_read_is_dropped() {
    let app = in_process(LIMIT);
    // A control character is six bytes in JSON: a 9 MB answer, more than the kernel's buffers
    // on both sides can hold.
    let value = "\u{1}".repeat(switchyard_actors::kvs::keyvalue::MAX_VALUE_BYTES);
    assert_eq!(app.put_val("/kvs/big", &value).await.status, 201);

    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr: SocketAddr = app.host_port().parse().unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    std::io::Write::write_all(&mut stream, b"GET /kvs/big HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    // The client reads nothing for longer than the limit.
    actix_rt::time::sleep(LIMIT + Duration::from_secs(1)).await;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut received = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
    }
    assert!(
        received < 6 * value.len(),
        "the whole answer ({received} bytes) was kept for a client that did not read"
    );
    // The server goes on serving, the value intact.
    assert_eq!(app.stored("big").await.map(|v| v.len()), Some(value.len()));
}

#[actix_rt::test]
async fn a_whole_value_sent_slowly_but_steadily_is_stored() {
    let app = in_process(Duration::from_millis(500));
    let body = format!("val={}", form_encode("steady"));
    let head = format!(
        "PUT /kvs/steady HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(app.host_port()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // A second in all, never 500 ms quiet: the limit counts pauses, not the whole body.
    for chunk in body.as_bytes().chunks(body.len().div_ceil(4)) {
        actix_rt::time::sleep(Duration::from_millis(250)).await;
        stream.write_all(chunk).await.unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(app.stored("steady").await.as_deref(), Some("steady"));
}

#[actix_rt::test]
async fn past_max_connections_a_new_connection_waits_until_one_closes() {
    let app = TestApp::builder()
        .envs(&[("MAX_CONNECTIONS", "4"), ("WORKERS", "1")])
        .start_process();
    let addr: SocketAddr = app.host_port().parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(HELLO).await.unwrap();
        read_hello(&mut stream).await;
        held.push(stream);
    }
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    fifth.write_all(HELLO).await.unwrap();
    let waited = actix_rt::time::timeout(Duration::from_secs(1), read_hello(&mut fifth)).await;
    assert!(waited.is_err(), "a fifth connection was served");
    drop(held.pop());
    actix_rt::time::timeout(Duration::from_secs(2), read_hello(&mut fifth))
        .await
        .expect("served once a connection closed");
}
