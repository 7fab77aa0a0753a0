//! Test support for the actors' unit tests: a real redis-server per test on a free loopback
//! port (never a mock), killed when dropped; polling until a deadline; a few shorthands.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;
use tokio::sync::watch;

use crate::ops::metrics::Metrics;
use crate::redis::{Redis, RedisConfig};

/// How long a test waits for what it expects before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// Where this process hands out ports next, from the lowest; 0 until the first call.
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);
/// Tells the prefixes of one process's servers apart.
static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

/// `len` consecutive loopback ports that bound a moment ago, none handed out before by this
/// process, all below the kernel's ephemeral range (a port the system picks for an outgoing
/// connection cannot take one between this check and the test's bind).
pub(crate) fn free_ports(len: u16) -> RangeInclusive<u16> {
    const LOWEST: u32 = 20_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral.saturating_sub(LOWEST).max(1000);
    // Two test processes at once start at different places.
    let start = (u64::from(std::process::id()) * 104_729 % u64::from(span)) as u32;
    let _ = NEXT_PORT.compare_exchange(0, start.max(1), Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let offset = NEXT_PORT.fetch_add(u32::from(len), Ordering::SeqCst) % span;
        if offset + u32::from(len) > span {
            continue;
        }
        let first = (LOWEST + offset) as u16;
        let ports = first..=first + (len - 1);
        if ports
            .clone()
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        {
            return ports;
        }
    }
}

/// A redis-server of this test's own, with a key prefix no other server of the process has.
pub(crate) struct TestRedis {
    pub(crate) port: u16,
    pub(crate) prefix: String,
    child: Child,
}

impl TestRedis {
    pub(crate) fn start() -> Self {
        for _ in 0..10 {
            let port = *free_ports(1).start();
            if let Some(child) = launch(port) {
                let n = NEXT_PREFIX.fetch_add(1, Ordering::SeqCst);
                let prefix = format!("t{}-{n}:", std::process::id());
                return Self {
                    port,
                    prefix,
                    child,
                };
            }
        }
        panic!("redis-server did not start on any of ten free ports");
    }

    /// A handle with a connection of its own, under this server's prefix.
    pub(crate) fn redis(&self) -> Redis {
        self.with_prefix(&self.prefix)
    }

    /// A handle with a connection of its own, under `prefix`.
    pub(crate) fn with_prefix(&self, prefix: &str) -> Redis {
        let url = format!("redis://127.0.0.1:{}", self.port);
        Redis::new(RedisConfig::from_url(&url, prefix).unwrap())
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server on `port` and waits until it answers PING as itself; `None` when it exited
/// (the port was taken) or did not answer in time.
fn launch(port: u16) -> Option<Child> {
    let mut child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return None;
        }
        if answers_as(port, child.id()) {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Whether the server on `port` answers PING and is process `pid` (not another test's).
fn answers_as(port: u16, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\nINFO server\r\n").is_err() {
        return false;
    }
    let own = format!("process_id:{pid}\r\n");
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(read @ 1..) = stream.read(&mut chunk) {
        seen.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&seen);
        if text.starts_with("+PONG\r\n") && text.contains(&own) {
            return true;
        }
    }
    false
}

/// Asks `check` every 20 ms until it answers `Some`, and answers that; fails the test, naming
/// `what`, when [`WAIT`] passes first.
pub(crate) async fn until<T, F>(what: &str, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {WAIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `command` (built with `resp_array!`), which must succeed, read as `T`.
pub(crate) async fn cmd<T: FromResp>(redis: &Redis, command: RespValue) -> T {
    redis.command(command).await.unwrap()
}

/// The list at `key` (a full key), left to right.
pub(crate) async fn list(redis: &Redis, key: &str) -> Vec<String> {
    cmd(redis, resp_array!["LRANGE", key, "0", "-1"]).await
}

/// Waits until the list at `key` (a full key) holds `expected`, left to right.
pub(crate) async fn list_becomes(redis: &Redis, key: &str, expected: &[&str]) {
    until(&format!("{key} holds {expected:?}"), || async {
        (list(redis, key).await == expected).then_some(())
    })
    .await;
}

/// Pushes `messages` onto the list at `key` (a full key) one by one, as producers do: the
/// first is the oldest, at the right.
pub(crate) async fn push(redis: &Redis, key: &str, messages: &[&str]) {
    for message in messages {
        let _: i64 = cmd(redis, resp_array!["LPUSH", key, *message]).await;
    }
}

/// Metrics whose operations all time out after a second.
pub(crate) fn metrics() -> Metrics {
    Metrics::new(|_| Duration::from_secs(1))
}

/// A `registered` watch that says so already; keep the sender while the taker runs.
pub(crate) fn registered() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(true)
}

/// Waits for `answer` (a message's reply, say) for at most [`WAIT`].
pub(crate) async fn within<T>(what: &str, answer: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, answer).await {
        Ok(answered) => answered,
        Err(_) => panic!("not within {WAIT:?}: {what}"),
    }
}
