//! Servers around the one under test: free and refusing ports, spawned app servers, raw
//! backends registered by hand.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use switchyard::config::Config;

use super::app::TestApp;
use super::poll::until;
use super::redis::TestRedis;

/// The first port handed out next; 0 until the first call picks where this process starts.
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// A range of `len` loopback ports that nothing listened on a moment ago, none handed out
/// before by this process, all below the kernel's ephemeral range: a port the system picks
/// (for an outgoing connection, or a `:0` bind) can otherwise take one between this check and
/// the bind of the server the test starts there.
pub fn free_ports(len: u16) -> std::ops::RangeInclusive<u16> {
    const LOWEST: u32 = 10_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral.saturating_sub(LOWEST).max(1000);
    // Two test processes at once start at different places.
    let start = (u64::from(std::process::id()) * 7919 % u64::from(span)) as u32;
    let _ = NEXT_PORT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let offset = NEXT_PORT.fetch_add(u32::from(len), Ordering::SeqCst) % span;
        if offset + u32::from(len) > span {
            continue;
        }
        let first = (LOWEST + offset) as u16;
        let last = first + (len - 1);
        if (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return first..=last;
        }
    }
}

/// A loopback port that refuses connections and that no one else can take: bound, not
/// listening. `listen` on the socket brings a server there later.
pub fn refusing_port() -> (socket2::Socket, u16) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&any.into()).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    (socket, port)
}

/// Registers `url` in the registry under `prefix` by hand, never lapsing (as a hand-written or
/// foreign entry would be).
pub fn register_for_good(redis: &TestRedis, prefix: &str, url: &str) {
    redis.cli(&["ZADD", &format!("{prefix}servers"), "99999999999999", url]);
}

/// `POST /spawn`, which must succeed; the new server's URL.
pub async fn spawn(app: &TestApp) -> String {
    let reply = app.request(awc::http::Method::POST, "/spawn", None).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()["url"].as_str().unwrap().to_owned()
}

/// A backend for one connection: it reads a request head and hands it, lower-cased, and the
/// connection to `answer`. Its URL is registered directly in the registry, never lapsing.
pub async fn raw_backend(
    redis: &TestRedis,
    prefix: &str,
    answer: impl FnOnce(String, &mut TcpStream) + Send + 'static,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        answer(String::from_utf8_lossy(&head).to_lowercase(), &mut stream);
    });
    register_for_good(redis, prefix, &url);
    actix_rt::time::sleep(Duration::from_millis(400)).await;
}

pub fn with_proxy(config: &mut Config) {
    config.proxy_port = Some(0);
    config.spawn_ports = free_ports(10);
}

/// Waits until the proxy has sent requests to `count` different servers in a row.
pub async fn until_proxy_knows(proxy: &TestApp, count: usize) {
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

/// Waits until the proxy answers `GET /` with 200 `count` times in a row.
pub async fn until_served(proxy: &TestApp, count: usize) {
    let what = format!("{count} requests served in a row");
    until(Duration::from_secs(5), &what, || async {
        for _ in 0..count {
            if proxy.get("/").await.status != 200 {
                return None;
            }
        }
        Some(())
    })
    .await;
}

/// Serves `stream` as a backend: every request gets a `size`-byte answer; `answering` counts
/// the answers begun. Returns when the connection ends.
pub fn answer_every_request(mut stream: TcpStream, size: usize, answering: &AtomicUsize) {
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
