//! A [`TestApp`] started as a child process: its log, signals, memory, exit.

use std::process::Command;
use std::time::{Duration, Instant};

use super::app::TestApp;

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl TestApp {
    /// The child process's log lines so far that contain `text`.
    pub fn logged(&self, text: &str) -> Vec<String> {
        let logs = self.logs.lock().unwrap();
        logs.iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    /// Stops the child process as `docker stop` does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) {
        self.signal("TERM");
        self.wait_for_exit(Duration::from_secs(15));
    }

    /// Sends the child process `SIGname`, e.g. `TERM`; after `STOP`, returns once it is stopped.
    pub fn signal(&mut self, name: &str) {
        let child = self.process.as_mut().expect("a child process");
        send_signal(child.id(), name);
    }

    /// The child process's resident memory, in KiB.
    pub fn resident_kib(&self) -> u64 {
        let child = self.process.as_ref().expect("a child process");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// The child process's id.
    pub fn pid(&self) -> u32 {
        self.process.as_ref().expect("a child process").id()
    }

    pub fn is_running(&mut self) -> bool {
        let child = self.process.as_mut().expect("a child process");
        child.try_wait().expect("wait").is_none()
    }

    /// Waits for the child process to exit; fails the test after `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let child = self.process.as_mut().expect("a child process");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the child process at once (a crash, not a graceful stop).
    pub fn kill(&mut self) {
        let child = self.process.as_mut().expect("a child process");
        child.kill().expect("kill");
        child.wait().expect("wait");
    }
}

/// Sends process `pid` `SIGname`. `kill` returns before a stop has reached every thread of the
/// process, so after `STOP` this waits until each thread shows as stopped: a test that then
/// expects no answer must not meet a thread still finishing its last step.
pub fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
    if name == "STOP" {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !every_thread_stopped(pid) {
            assert!(Instant::now() < deadline, "process {pid} never stopped");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Whether every thread of `pid` is in state `T` (stopped by a signal).
fn every_thread_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            // The state follows the command name, which is in parentheses and may hold spaces.
            .map(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('T'))
            })
            .unwrap_or(false)
    })
}
