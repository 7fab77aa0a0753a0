//! A real redis-server for one test, on a free loopback port, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct TestRedis {
    pub port: u16,
    process: Option<Child>,
    /// The server's command for a port.
    launcher: Launcher,
    /// What redis-cli needs before the command (TLS flags).
    cli_flags: Vec<String>,
}

/// A redis-server (or redis-sentinel) command line for a port.
pub type Launcher = Arc<dyn Fn(u16) -> Command + Send + Sync>;

/// A plain redis-server on `port`, saving nothing, in a directory of its own: a replica
/// writes the copy it receives there (`dump.rdb`), and a server started later must not load it.
pub fn plain_server(port: u16) -> Command {
    let dir = server_dir(port);
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir);
    command
}

/// The working directory of the test's server on `port`.
fn server_dir(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("switchyard-redis-{}-{port}", std::process::id()))
}

impl TestRedis {
    /// A server on a port the system had free a moment ago; another one when something took
    /// that port in between (tests start many servers at once).
    pub fn start() -> Self {
        Self::start_with(Arc::new(plain_server), Vec::new())
    }

    /// As [`Self::start`], the server started by `launcher`, redis-cli given `cli_flags`.
    pub fn start_with(launcher: Launcher, cli_flags: Vec<String>) -> Self {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut redis = Self {
                port,
                process: None,
                launcher: launcher.clone(),
                cli_flags: cli_flags.clone(),
            };
            if redis.launch() {
                return redis;
            }
        }
        panic!("redis-server did not start on any of five free ports");
    }

    /// Starts the server (again) on the same port, empty.
    pub fn start_again(&mut self) {
        assert!(
            self.launch(),
            "redis-server did not start again on port {}",
            self.port
        );
    }

    /// Starts the server on its port; `false` when it exited instead (the port was taken).
    fn launch(&mut self) -> bool {
        assert!(self.process.is_none(), "already running");
        let mut child = (self.launcher)(self.port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        // The server answering must be this one: another test's may hold the port.
        let own = format!("process_id:{}", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .cli(&["INFO", "server"])
            .lines()
            .any(|line| line.trim() == own)
        {
            if child.try_wait().expect("wait").is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.process = Some(child);
        true
    }

    /// Whether the server runs (it was not stopped).
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// Kills the server at once (SIGKILL): a crash, not a shutdown.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server as `docker pause` does (SIGSTOP): connections are accepted by the
    /// kernel and never answered.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let pid = self.process.as_ref().expect("running").id();
        super::process::send_signal(pid, name);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One command through redis-cli, its answer trimmed (empty for nil).
    pub fn cli(&self, args: &[&str]) -> String {
        let flags: Vec<&str> = self.cli_flags.iter().map(String::as_str).collect();
        redis_cli(self.port, &[flags.as_slice(), args].concat())
    }
}

/// One command through redis-cli to the server on `port`, its answer trimmed (empty for nil):
/// for threads that play a client of their own.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(server_dir(self.port));
    }
}

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    format!("test:{}:{test}:", std::process::id())
}
