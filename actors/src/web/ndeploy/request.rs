//! ndeploy's protocol (docs/web-server.md#ndeploy): a request hash under an id from a counter,
//! the id queued, a result hash written by the deployer. The `deploy` command and the
//! [`super::Deployer`] both speak it through this module.

use std::collections::HashMap;

use redis_async::resp::RespValue;
use redis_async::resp_array;

use crate::error::ActorError;
use crate::redis::{eval, Redis};

/// How long requests and results are kept (seconds): a week.
pub const KEPT_SECS: u64 = 7 * 24 * 3600;

/// The longest ref name (branch, commit, tag) taken.
const MAX_REF_LEN: usize = 255;

/// KEYS[1] a new request's hash, KEYS[2] its result; ARGV[1] their lifetime, then field,
/// value pairs. Written unless either exists (written by a client of the notes' protocol that
/// did not use the counter, or kept from before the counter was reset): 1, else 0 and nothing
/// written. One Redis runs it on both keys; a cluster keeps them apart, and reads the result's
/// key first ([`Redis::co_located`]).
const WRITE_NEW: &str = "if redis.call('EXISTS', unpack(KEYS)) > 0 then return 0 end \
    redis.call('HSET', KEYS[1], unpack(ARGV, 2)) \
    redis.call('EXPIRE', KEYS[1], ARGV[1]) return 1";

/// Ids in a row found taken before giving up.
const IDS_TRIED: usize = 100;

/// A deployment asked for: where from, and optionally which branch, commit and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    pub git: String,
    pub branch: Option<String>,
    /// Any ref git can check out: a commit's hash, a tag, a branch; `HEAD` (the branch's last
    /// commit) when none is given.
    pub commit: Option<String>,
    /// A tag to check out; with `commit` as well, both must name the same commit.
    pub tag: Option<String>,
}

impl DeployRequest {
    /// Checked: a URL or path that git cannot mistake for an option; a branch, commit and tag
    /// as ref names ([`check_ref`]).
    pub fn new(
        git: String,
        branch: Option<String>,
        commit: Option<String>,
        tag: Option<String>,
    ) -> Result<Self, String> {
        if git.is_empty()
            || git.starts_with('-')
            || git.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            // Not quoted: a URL may carry credentials, and this text is logged and kept.
            return Err(
                "git must be a repository URL without spaces, not starting with '-'".to_owned(),
            );
        }
        for (what, name) in [("branch", &branch), ("commit", &commit), ("tag", &tag)] {
            if let Some(name) = name {
                check_ref(what, name)?;
            }
        }
        Ok(Self {
            git,
            branch,
            commit,
            tag,
        })
    }

    /// From a request hash's fields; empty ones count as not given.
    pub fn from_fields(mut fields: HashMap<String, String>) -> Result<Self, String> {
        let git = fields
            .remove("git")
            .ok_or_else(|| "the request has no git field".to_owned())?;
        let mut optional = |name: &str| fields.remove(name).filter(|v| !v.is_empty());
        let (branch, commit, tag) = (optional("branch"), optional("commit"), optional("tag"));
        Self::new(git, branch, commit, tag)
    }

    /// The commit to check out when it is not simply the branch's last one.
    pub fn commit_asked(&self) -> Option<&str> {
        self.commit.as_deref().filter(|commit| *commit != "HEAD")
    }

    fn fields(&self) -> Vec<String> {
        let mut fields = vec!["git".to_owned(), self.git.clone()];
        for (name, value) in [
            ("branch", &self.branch),
            ("commit", &self.commit),
            ("tag", &self.tag),
        ] {
            if let Some(value) = value {
                fields.extend([name.to_owned(), value.clone()]);
            }
        }
        fields
    }

    /// Writes the request under a new id from the counter and queues the id on `queue` (a
    /// full key): the id. Each step is a command of its own, since a cluster keeps the
    /// counter, the hashes and the queue apart: a process that dies between the write and the
    /// queueing leaves a request nobody deploys and no id given to its client; it expires with
    /// the rest.
    pub async fn queue(&self, redis: &Redis, queue: &str) -> Result<u64, ActorError> {
        let keys = redis.keys();
        let mut args = vec![KEPT_SECS.to_string()];
        args.extend(self.fields());
        for _ in 0..IDS_TRIED {
            let id: u64 = redis
                .command(resp_array!["INCR", keys.ndeploy_seq()])
                .await?;
            let (request, result) = (keys.ndeploy_request(id), keys.ndeploy_result(id));
            let written: i64 = if redis.co_located(&[&request, &result]) {
                redis
                    .command(eval(WRITE_NEW, &[request, result], &args))
                    .await?
            } else {
                let exists = resp_array!["EXISTS", result.as_str()];
                if redis.command::<i64>(exists).await? > 0 {
                    continue;
                }
                redis.command(eval(WRITE_NEW, &[request], &args)).await?
            };
            if written == 1 {
                let _: i64 = redis
                    .command(resp_array!["LPUSH", queue, id.to_string()])
                    .await?;
                return Ok(id);
            }
        }
        Err(ActorError::Redis(crate::error::Cause::described(
            format_args!(
                "{IDS_TRIED} ids in a row are taken: is the counter {} behind?",
                keys.ndeploy_seq()
            ),
        )))
    }
}

/// A branch, commit or tag name as git's own rules allow one (`git check-ref-format`), and
/// never one git could take for an option: 1 to 255 characters of letters, digits and
/// `._/@+-`, not starting with `-`, `.` or `/`, without `..` or `//`, not ending with `/`,
/// `.` or `.lock`. `HEAD~1` and `main^` are refused: a deployment names what it deploys.
pub fn check_ref(what: &str, name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._/@+-".contains(c);
    let well_formed = (1..=MAX_REF_LEN).contains(&name.len())
        && name.chars().all(allowed)
        && !name.starts_with(['-', '.', '/'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{");
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "{what} must be a ref name (letters, digits and ._/@+-, not starting with '-'): {name:?}"
        ))
    }
}

/// Deployment `id`'s result fields, none while it has none.
pub async fn result(redis: &Redis, id: u64) -> Result<HashMap<String, String>, ActorError> {
    redis.hash(&redis.keys().ndeploy_result(id)).await
}

/// Takes request `id` off `queue` unless a deployer has taken it: whether it was still there.
pub async fn withdraw(redis: &Redis, queue: &str, id: u64) -> Result<bool, ActorError> {
    let command = RespValue::Array(vec![
        "LREM".into(),
        queue.into(),
        "0".into(),
        id.to_string().into(),
    ]);
    let removed: i64 = redis.command(command).await?;
    Ok(removed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(branch: Option<&str>, commit: Option<&str>) -> Result<DeployRequest, String> {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        DeployRequest::new(
            "file:///srv/repo.git".to_owned(),
            owned(branch),
            owned(commit),
            None,
        )
    }

    #[test]
    fn any_ref_name_is_taken_and_what_git_could_take_for_an_option_is_refused() {
        assert!(request(None, None).is_ok());
        for commit in ["c6a9326f", "HEAD", "v1.2.0", "release/2026-12", "main"] {
            assert!(request(Some("main"), Some(commit)).is_ok(), "{commit}");
        }
        assert!(DeployRequest::new("--upload-pack=touch x".into(), None, None, None).is_err());
        assert!(DeployRequest::new("".into(), None, None, None).is_err());
        assert!(DeployRequest::new("a b".into(), None, None, None).is_err());
        for bad in [
            "-b", "HEAD~1", "main^", "a..b", "", "x.lock", "/abs", "a b", "a:b", "a@{1}",
        ] {
            assert!(request(Some(bad), None).is_err(), "branch {bad:?}");
            assert!(request(None, Some(bad)).is_err(), "commit {bad:?}");
        }
        let tag = DeployRequest::new("file:///r".into(), None, None, Some("-x".into()));
        assert!(tag.is_err());
        assert!(request(None, Some(&"a".repeat(256))).is_err());
    }

    #[test]
    fn head_asks_for_no_particular_commit() {
        assert_eq!(request(None, Some("HEAD")).unwrap().commit_asked(), None);
        assert_eq!(
            request(None, Some("v1")).unwrap().commit_asked(),
            Some("v1")
        );
    }

    #[test]
    fn a_request_reads_back_from_its_fields_and_empty_fields_are_not_given() {
        let fields: HashMap<String, String> = [
            ("git", "https://h/r"),
            ("branch", ""),
            ("commit", "v2"),
            ("tag", "v2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let read = DeployRequest::from_fields(fields).unwrap();
        assert_eq!(read.branch, None);
        assert_eq!(read.commit.as_deref(), Some("v2"));
        assert_eq!(read.tag.as_deref(), Some("v2"));
        assert_eq!(
            read.fields(),
            ["git", "https://h/r", "commit", "v2", "tag", "v2"]
        );
    }
}
