//! A real redis-server for one test, on a free loopback port, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRedis {
    pub port: u16,
    process: Option<Child>,
}

impl TestRedis {
    /// A server on a port the system had free a moment ago; another one when something took
    /// that port in between (tests start many servers at once).
    pub fn start() -> Self {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut redis = Self {
                port,
                process: None,
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
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
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
        redis_cli(self.port, args)
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
    }
}

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    format!("test:{}:{test}:", std::process::id())
}
