//! Servers around the one under test: free and refusing ports, spawned app servers, raw
//! backends registered by hand.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::app::TestApp;
use super::redis::TestRedis;

/// A range of `len` loopback ports that nothing listened on a moment ago.
pub fn free_ports(len: u16) -> std::ops::RangeInclusive<u16> {
    loop {
        let first = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let Some(last) = first.checked_add(len - 1) else {
            continue;
        };
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
    let key = format!("{prefix}servers");
    redis.cli(&["ZADD", &key, "99999999999999", &url]);
    actix_rt::time::sleep(Duration::from_millis(400)).await;
}
