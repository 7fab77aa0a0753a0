//! The commands a deployment runs (git, the install), each a child process in a process group
//! of its own, so a timeout kills whatever it started; their output is kept only as a tail,
//! for the error a failure reports.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::{timeout_at, Instant};

/// The most output kept from a command, from its end.
const TAIL: usize = 2048;

/// The transports git may use (not `ext::`, which runs a command, nor `fd::`); no advice.
const GIT_SETTINGS: [&str; 7] = [
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.http.allow=always",
    "protocol.ssh.allow=always",
    "protocol.git.allow=always",
    "protocol.file.allow=always",
    "advice.detachedHead=false",
];

/// `git <args>` in `dir`, never asking for credentials; the output's tail on success.
pub async fn git(dir: &Path, args: &[&str], by: Instant) -> Result<String, String> {
    let mut command = Command::new("git");
    for setting in GIT_SETTINGS {
        command.args(["-c", setting]);
    }
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    let step = format!("git {}", args.first().copied().unwrap_or_default());
    run(command, &step, by).await
}

/// `sh -c <script>` in `dir`.
pub async fn shell(dir: &Path, script: &str, by: Instant) -> Result<String, String> {
    let mut command = Command::new("sh");
    command.args(["-c", script]).current_dir(dir);
    run(command, script, by).await
}

/// Runs `command` until it exits or `by`; what it printed (its tail) when it succeeded, else
/// an error naming `step`, its exit status and its output's tail.
async fn run(mut command: Command, step: &str, by: Instant) -> Result<String, String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|err| format!("{step} could not start: {err}"))?;
    let group = child.id();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let finished = async {
        let (out, err, status) = tokio::join!(tail(stdout), tail(stderr), child.wait());
        (status, [out, err].concat())
    };
    match timeout_at(by, finished).await {
        Ok((Ok(status), output)) => {
            let output = without_credentials(String::from_utf8_lossy(&output).trim());
            if status.success() {
                Ok(output)
            } else {
                Err(format!("{step} failed ({status}): {output}"))
            }
        }
        Ok((Err(err), _)) => Err(format!("{step}: {err}")),
        Err(_) => {
            if let Some(group) = group {
                kill_group(group).await;
            }
            Err(format!("{step} did not finish in time (NDEPLOY_TIMEOUT_S)"))
        }
    }
}

/// The last [`TAIL`] bytes `reader` gives until it ends.
async fn tail(reader: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut reader) = reader else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(read @ 1..) = reader.read(&mut chunk).await {
        kept.extend_from_slice(&chunk[..read]);
        if kept.len() > TAIL {
            kept.drain(..kept.len() - TAIL);
        }
    }
    kept
}

/// Kills every process of the group (the command and whatever it started).
async fn kill_group(group: u32) {
    // The shell's own kill (images without procps have no kill program); dash's takes no `--`.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -KILL -{group}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    match killed {
        Ok(status) if status.success() => {}
        Ok(status) => log::warn!("a timed-out command's processes were not killed: {status}"),
        Err(err) => log::warn!("a timed-out command's processes were not killed: {err}"),
    }
}
/// `text` with the credentials of every URL in it (`scheme://user:password@host`) replaced by
/// `***`: a command's output is logged and kept in the result hash for a week.
fn without_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                rest = &after[user_end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_in_urls_are_never_kept() {
        assert_eq!(
            without_credentials("fatal: could not read from 'https://ada:s3cret@host/r.git/': 403"),
            "fatal: could not read from 'https://***@host/r.git/': 403"
        );
        assert_eq!(
            without_credentials("ssh://git@host:22/r and https://host/x"),
            "ssh://***@host:22/r and https://host/x"
        );
        assert_eq!(without_credentials("no url here"), "no url here");
    }
}
