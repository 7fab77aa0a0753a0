//! The proxy against clients that never read their answers: they do not starve the others.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::{
    answer_every_request, register_for_good, unique_prefix, until, with_proxy, TestApp, TestRedis,
};

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
    register_for_good(redis, prefix, &format!("http://{addr}"));
    answering
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
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| {
            with_proxy(config);
            config.workers = Some(WORKERS);
            // The stalled clients hold their connections this long: a request starved by them
            // would wait as long.
            config.client_timeout = Duration::from_secs(30);
        })
        .start();
    let answering = big_answer_backend(&redis, &prefix, ANSWER);
    let proxy = app.proxy();
    until(
        Duration::from_secs(5),
        "the proxy finds the backend",
        || async { (proxy.get("/").await.status == 200).then_some(()) },
    )
    .await;

    let proxy_addr: SocketAddr = proxy.host_port().parse().unwrap();
    let before = answering.load(Ordering::SeqCst);
    let stalled: Vec<TcpStream> = (0..100 * WORKERS).map(|_| non_reader(proxy_addr)).collect();
    let reached =
        || async { (answering.load(Ordering::SeqCst) >= before + stalled.len()).then_some(()) };
    until(
        Duration::from_secs(8),
        "the stalled requests all reach the backend",
        reached,
    )
    .await;

    // Served while the stalled clients still hold their connections (a starved request would
    // wait for CLIENT_TIMEOUT_MS, 30 s, to free one).
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(15))
        .finish();
    for _ in 0..4 {
        let mut answer = client.get(&proxy.base).send().await.expect("served");
        assert_eq!(answer.status(), 200);
        let body = answer.body().limit(ANSWER).await.expect("the whole answer");
        assert_eq!(body.len(), ANSWER);
    }
    drop(stalled);
}
