//! [`TestApp`]: a switchyard instance (in this process or as a child process) and a client for
//! it, started the one way: [`TestApp::builder`].

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use awc::Client;
use switchyard::config::{Config, Role};
use switchyard::routes::counting::Listener;
use switchyard::startup::Application;
use switchyard_actors::redis::RedisConfig;

use super::fleet::free_ports;

/// Longer than any answer switchyard is allowed to take (the forwarder's 2 s included).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Port 1 on loopback: nothing listens there, so the Redis features fail fast and the tests
/// that do not need Redis never touch one that may run on this machine.
pub const NO_REDIS: &str = "redis://127.0.0.1:1";

/// A switchyard instance and a client for it.
pub struct TestApp {
    pub base: String,
    /// The load-balancing proxy's base URL, when it was started with one.
    pub proxy_base: Option<String>,
    /// The gateway's base URL, when it was started with one.
    pub gateway_base: Option<String>,
    pub(super) client: Client,
    /// Keeps a child process alive for as long as the app is used; `None` when in-process.
    pub(super) process: Option<Child>,
    /// What the child process has logged so far.
    pub(super) logs: Arc<Mutex<Vec<String>>>,
}

/// How to start a [`TestApp`]: on loopback, on a port the system picks, two workers, no Redis
/// unless [`redis`](Self::redis) names one.
pub struct TestAppBuilder {
    config: Config,
    env: Vec<(String, String)>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: Config {
                ip: [127, 0, 0, 1].into(),
                port: 0,
                workers: Some(2),
                redis: RedisConfig::from_url(NO_REDIS, "unused:").unwrap(),
                ..Config::default()
            },
            env: Vec::new(),
        }
    }

    /// A client of its own for a server already running at `base` (started by another test
    /// app, or a proxy's address).
    pub fn connect(base: &str) -> Self {
        TestApp {
            base: base.to_owned(),
            proxy_base: None,
            gateway_base: None,
            client: client(),
            process: None,
            logs: Arc::default(),
        }
    }

    /// A client of this app's load-balancing proxy.
    pub fn proxy(&self) -> TestApp {
        TestApp::connect(
            self.proxy_base
                .as_deref()
                .expect("started with a proxy port"),
        )
    }

    /// A client of this app's gateway.
    pub fn gateway(&self) -> TestApp {
        TestApp::connect(
            self.gateway_base
                .as_deref()
                .expect("started with a gateway port"),
        )
    }

    /// `host:port`, as `MAINIP` takes it.
    pub fn host_port(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl TestAppBuilder {
    /// Keys under `prefix` in the Redis at `url`.
    pub fn redis(mut self, url: &str, prefix: &str) -> Self {
        self.config.redis = RedisConfig::from_url(url, prefix).unwrap();
        self.env("REDIS_URL", url).env("REDIS_PREFIX", prefix)
    }

    /// A forwarder relaying to the main at `main` (`host:port`).
    pub fn forwarding_to(mut self, main: &str) -> Self {
        self.config.role = Role::Forwarder { main: main.into() };
        self.env("MAINIP", main)
    }

    /// Changes the configuration of an instance started in this process.
    pub fn config(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        adjust(&mut self.config);
        self
    }

    /// A variable for a child process, on top of the others.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter()
            .fold(self, |builder, (name, value)| builder.env(name, value))
    }

    /// Starts the instance in this process.
    pub fn start(self) -> TestApp {
        let application = Application::build(&self.config).expect("server starts");
        let base_of = |listener| {
            application
                .address(listener)
                .map(|addr| format!("http://{addr}"))
        };
        let base = base_of(Listener::Main).expect("the main port");
        let (proxy_base, gateway_base) = (base_of(Listener::Proxy), base_of(Listener::Gateway));
        application.spawn();
        TestApp {
            base,
            proxy_base,
            gateway_base,
            client: client(),
            process: None,
            logs: Arc::default(),
        }
    }

    /// Starts the switchyard binary as a child process, with `IP=127.0.0.1 PORT=0`, spawning
    /// on free ports of its own, and the variables given (they take precedence).
    pub fn start_process(self) -> TestApp {
        let ports = free_ports(3);
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        command
            .env("IP", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .env("REDIS_URL", NO_REDIS)
            .env("SPAWN_PORTS", format!("{}-{}", ports.start(), ports.end()))
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("switchyard starts");
        let logs = Arc::default();
        let addr = listening_addr(&mut child, Arc::clone(&logs));
        let base_of = |variable: &str| {
            self.env
                .iter()
                .rfind(|(name, _)| name == variable)
                .map(|(_, port)| format!("http://127.0.0.1:{port}"))
        };
        TestApp {
            base: format!("http://{addr}"),
            proxy_base: base_of("PROXY_PORT"),
            gateway_base: base_of("GATEWAY_PORT"),
            client: client(),
            process: Some(child),
            logs,
        }
    }
}

fn client() -> Client {
    Client::builder().timeout(CLIENT_TIMEOUT).finish()
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
