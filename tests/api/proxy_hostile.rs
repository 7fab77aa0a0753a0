//! The proxy against clients that misbehave: they cost the other clients nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard::config::Config;

use crate::helpers::{free_ports, spawn_with_redis, TestApp};
use crate::redis_server::{unique_prefix, TestRedis};

fn proxy_config(config: &mut Config) {
    config.proxy_port = Some(0);
    config.spawn_ports = free_ports(10);
}

/// Registers, for good, a backend that answers every request of every connection with
/// `size` bytes, a thread per connection. Counts the requests it has begun to answer.
fn big_answer_backend(redis: &TestRedis, prefix: &str, size: usize) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answering = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&answering);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let count = Arc::clone(&count);
            std::thread::spawn(move || answer_every_request(stream, size, &count));
        }
    });
    redis.cli(&[
        "ZADD",
        &format!("{prefix}servers"),
        "99999999999999",
        &format!("http://{addr}"),
    ]);
    answering
}

fn answer_every_request(mut stream: TcpStream, size: usize, answering: &AtomicUsize) {
    let body = vec![b'x'; size];
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        head.clear();
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        answering.fetch_add(1, Ordering::SeqCst);
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
        if stream.write_all(answer.as_bytes()).is_err() || stream.write_all(&body).is_err() {
            return;
        }
    }
}

/// A client that asks and never reads, with a receive buffer as small as the system allows,
/// so the answer stalls at once.
fn non_reader(proxy: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&proxy.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: proxy\r\n\r\n")
        .unwrap();
    stream
}

#[actix_rt::test]
async fn clients_that_never_read_do_not_starve_the_others() {
    const WORKERS: usize = 2;
    const ANSWER: usize = 16 << 20;
    let redis = TestRedis::start();
    let prefix = unique_prefix("non-readers");
    let app = spawn_with_redis(&redis.url(), &prefix, |config| {
        proxy_config(config);
        config.workers = Some(WORKERS);
    });
    let answering = big_answer_backend(&redis, &prefix, ANSWER);
    let proxy = app.proxy();
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.get("/").await.status != 200 {
        assert!(
            Instant::now() < deadline,
            "the proxy never found the backend"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }

    let proxy_addr: SocketAddr = proxy.host_port().parse().unwrap();
    let before = answering.load(Ordering::SeqCst);
    let stalled: Vec<TcpStream> = (0..100 * WORKERS).map(|_| non_reader(proxy_addr)).collect();
    let deadline = Instant::now() + Duration::from_secs(8);
    while answering.load(Ordering::SeqCst) < before + stalled.len() {
        assert!(
            Instant::now() < deadline,
            "the stalled requests did not all reach the backend"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }

    // Well inside CLIENT_TIMEOUT_MS (10 s): the stalled clients still hold their connections.
    for _ in 0..4 {
        let started = Instant::now();
        let reply = TestApp::connect(&proxy.base).get("/").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.body.len(), ANSWER);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    drop(stalled);
}
