//! Starting switchyard (in this process or as a child process) and talking to it.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use awc::http::Method;
use awc::Client;
use serde_json::Value as Json;
use switchyard::config::{Config, Role};
use switchyard::startup;
use switchyard_actors::redis::RedisConfig;

/// Longer than any answer switchyard is allowed to take (the forwarder's 2 s included).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A switchyard instance and a client for it.
pub struct TestApp {
    pub base: String,
    /// The load-balancing proxy's base URL, when the config set `proxy_port`.
    pub proxy_base: Option<String>,
    client: Client,
    /// Keeps a child process alive for as long as the app is used; `None` when in-process.
    process: Option<Child>,
    /// What the child process has logged so far.
    logs: Arc<Mutex<Vec<String>>>,
}

/// One answer, read whole.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The `X-Served-By` header, empty when there was none.
    pub served_by: String,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Json {
        assert_eq!(
            self.content_type,
            "application/json",
            "body: {}",
            self.text()
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, empty when there was none.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().expect("a text header"))
    }
}

fn client() -> Client {
    Client::builder().timeout(CLIENT_TIMEOUT).finish()
}

/// Port 1 on loopback: nothing listens there, so the Redis features fail fast and the tests
/// that do not need Redis never touch one that may run on this machine.
pub const NO_REDIS: &str = "redis://127.0.0.1:1";

/// An instance on loopback, on a port the system picks, with no Redis.
pub fn test_config() -> Config {
    Config {
        ip: [127, 0, 0, 1].into(),
        port: 0,
        workers: Some(2),
        redis: RedisConfig::from_url(NO_REDIS, "unused:").unwrap(),
        ..Config::default()
    }
}

/// A main store in this process using the Redis at `redis_url` under `prefix`.
pub fn spawn_with_redis(
    redis_url: &str,
    prefix: &str,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config {
        redis: RedisConfig::from_url(redis_url, prefix).unwrap(),
        ..test_config()
    };
    adjust(&mut config);
    spawn_with(config)
}

/// A main store in this process, on a port the system picked.
pub fn spawn_main() -> TestApp {
    spawn_with(test_config())
}

/// A forwarder in this process, relaying to `main` (`host:port`).
pub fn spawn_forwarder(main: &str) -> TestApp {
    spawn_with(Config {
        role: Role::Forwarder { main: main.into() },
        ..test_config()
    })
}

/// An instance in this process with `config`.
pub fn spawn_with(config: Config) -> TestApp {
    let running = startup::start(&config).expect("server starts");
    actix_rt::spawn(running.server);
    let proxy_base = running.proxy.map(|(addr, proxy)| {
        actix_rt::spawn(proxy);
        format!("http://{addr}")
    });
    TestApp {
        base: format!("http://{}", running.addr),
        proxy_base,
        client: client(),
        process: None,
        logs: Arc::default(),
    }
}

/// A child process on the Redis at `redis_url` with key prefix `prefix`, spawning on free
/// ports of its own, with `extra` variables on top.
pub fn spawn_process_on_redis(redis_url: &str, prefix: &str, extra: &[(&str, &str)]) -> TestApp {
    let ports = free_ports(3);
    let ports = format!("{}-{}", ports.start(), ports.end());
    let mut env = vec![
        ("REDIS_URL", redis_url),
        ("REDIS_PREFIX", prefix),
        ("SPAWN_PORTS", ports.as_str()),
    ];
    env.extend_from_slice(extra);
    spawn_process(&env)
}

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

/// The switchyard binary as a child process, with `env` on top of `IP=127.0.0.1 PORT=0`.
pub fn spawn_process(env: &[(&str, &str)]) -> TestApp {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .env("IP", "127.0.0.1")
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .env("REDIS_URL", NO_REDIS)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("switchyard starts");
    let logs = Arc::default();
    let addr = listening_addr(&mut child, Arc::clone(&logs));
    let proxy_base = env
        .iter()
        .find(|(name, _)| *name == "PROXY_PORT")
        .map(|(_, port)| format!("http://127.0.0.1:{port}"));
    TestApp {
        base: format!("http://{addr}"),
        proxy_base,
        client: client(),
        process: Some(child),
        logs,
    }
}

/// Reads the child's log until it says where it listens; keeps draining it (into `logs`)
/// afterwards so the child never blocks on a full pipe.
fn listening_addr(child: &mut Child, logs: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(addr.parse::<SocketAddr>().expect("an address"));
            }
            logs.lock().unwrap().push(line);
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("switchyard logs its address within 10 s")
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestApp {
    /// A client of its own for a server already running at `base`.
    pub fn connect(base: &str) -> Self {
        TestApp {
            base: base.to_owned(),
            proxy_base: None,
            client: client(),
            process: None,
            logs: Arc::default(),
        }
    }

    /// The child process's log lines so far that contain `text`.
    pub fn logged(&self, text: &str) -> Vec<String> {
        let logs = self.logs.lock().unwrap();
        logs.iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    /// A client of this app's load-balancing proxy.
    pub fn proxy(&self) -> TestApp {
        TestApp::connect(self.proxy_base.as_deref().expect("started with proxy_port"))
    }

    /// `host:port`, as `MAINIP` takes it.
    pub fn host_port(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Stops the child process as `docker stop` does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) {
        self.signal("TERM");
        self.wait_for_exit(Duration::from_secs(15));
    }

    /// Sends the child process `SIGname`, e.g. `TERM`, and returns at once.
    pub fn signal(&mut self, name: &str) {
        let child = self.process.as_mut().expect("a child process");
        let status = Command::new("kill")
            .args([format!("-{name}"), child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// The child process's resident memory, in KiB.
    pub fn resident_kib(&self) -> u64 {
        let child = self.process.as_ref().expect("a child process");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn is_running(&mut self) -> bool {
        let child = self.process.as_mut().expect("a child process");
        child.try_wait().expect("wait").is_none()
    }

    /// Waits for the child process to exit; fails the test after `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let child = self.process.as_mut().expect("a child process");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the child process at once (a crash, not a graceful stop).
    pub fn kill(&mut self) {
        let child = self.process.as_mut().expect("a child process");
        child.kill().expect("kill");
        child.wait().expect("wait");
    }

    pub async fn request(&self, method: Method, path: &str, form: Option<&str>) -> Reply {
        let request = self.client.request(method, format!("{}{path}", self.base));
        let sent = match form {
            Some(body) => {
                request
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .send_body(body.to_owned())
                    .await
            }
            None => request.send().await,
        };
        read_reply(path, sent).await
    }

    /// Any request, with extra headers and a raw body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for &header in headers {
            request = request.insert_header(header);
        }
        let sent = request.send_body(body).await;
        read_reply(path, sent).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None).await
    }

    /// PUT with `val` form-encoded.
    pub async fn put_val(&self, path: &str, val: &str) -> Reply {
        let form = format!("val={}", form_encode(val));
        self.request(Method::PUT, path, Some(&form)).await
    }

    /// The value `/kvs` holds for `key`, or `None` when it answers 404.
    pub async fn stored(&self, key: &str) -> Option<String> {
        let reply = self.get(&format!("/kvs/{key}")).await;
        match reply.status {
            200 => Some(reply.json()["value"].as_str().expect("a value").to_owned()),
            404 => None,
            other => panic!("GET /kvs/{key} answered {other}: {}", reply.text()),
        }
    }
}

type Sent = Result<awc::ClientResponse, awc::error::SendRequestError>;

async fn read_reply(path: &str, sent: Sent) -> Reply {
    let mut response = sent.unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
    let body = response.body().limit(32 << 20).await.expect("a body");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, served_by) = (header("content-type"), header("x-served-by"));
    Reply {
        status: response.status().as_u16(),
        content_type,
        served_by,
        headers: response.headers().clone(),
        body: body.to_vec(),
    }
}

/// Percent-encodes every byte but ASCII letters and digits, as a strict client would.
pub fn form_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A connection to `base` that has sent `request` as it is (an HTTP client would write headers
/// of its own, and send a body whole); reads on it wait at most [`CLIENT_TIMEOUT`].
pub fn raw_request(base: &str, request: &[u8]) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    std::io::Write::write_all(&mut stream, request).unwrap();
    stream
}
