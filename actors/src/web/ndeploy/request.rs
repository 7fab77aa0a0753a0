//! ndeploy's protocol (docs/web-server.md#ndeploy): a request hash under an id from a counter,
//! the id queued, a result hash written by the deployer. The `deploy` command and the
//! [`super::Deployer`] both speak it through this module.

use std::collections::HashMap;

use redis_async::resp::RespValue;

use crate::error::ActorError;
use crate::redis::{eval, Redis};

/// How long requests and results are kept (seconds): a week.
pub const KEPT_SECS: u64 = 7 * 24 * 3600;

/// KEYS[1] the counter, KEYS[2] the queue; ARGV[1] the request hash's prefix, ARGV[2] its
/// lifetime, then field, value pairs. The new id, its request written and queued at once.
const QUEUE: &str = "local id = redis.call('INCR', KEYS[1]) \
    local request = ARGV[1] .. id \
    redis.call('HSET', request, unpack(ARGV, 3)) \
    redis.call('EXPIRE', request, ARGV[2]) \
    redis.call('LPUSH', KEYS[2], id) \
    return id";

/// A deployment asked for: where from, and optionally which branch and commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    pub git: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
}

impl DeployRequest {
    /// Checked: a URL or path that git cannot mistake for an option, a branch likewise, a
    /// commit as 4 to 40 hexadecimal digits.
    pub fn new(
        git: String,
        branch: Option<String>,
        commit: Option<String>,
    ) -> Result<Self, String> {
        let plain = |text: &str| {
            !text.is_empty()
                && !text.starts_with('-')
                && !text.chars().any(|c| c.is_control() || c.is_whitespace())
        };
        if !plain(&git) {
            // Not quoted: a URL may carry credentials, and this text is logged and kept.
            return Err(
                "git must be a repository URL without spaces, not starting with '-'".to_owned(),
            );
        }
        if let Some(branch) = branch.as_deref().filter(|b| !plain(b)) {
            return Err(format!(
                "branch must be a name without spaces, not starting with '-': {branch:?}"
            ));
        }
        if let Some(commit) = commit
            .as_deref()
            .filter(|c| !(4..=40).contains(&c.len()) || !c.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(format!(
                "commit must be 4 to 40 hexadecimal digits: {commit:?}"
            ));
        }
        Ok(Self {
            git,
            branch,
            commit,
        })
    }

    /// From a request hash's fields.
    pub fn from_fields(mut fields: HashMap<String, String>) -> Result<Self, String> {
        let git = fields
            .remove("git")
            .ok_or_else(|| "the request has no git field".to_owned())?;
        let optional = |value: Option<String>| value.filter(|v| !v.is_empty());
        Self::new(
            git,
            optional(fields.remove("branch")),
            optional(fields.remove("commit")),
        )
    }

    fn fields(&self) -> Vec<String> {
        let mut fields = vec!["git".to_owned(), self.git.clone()];
        if let Some(branch) = &self.branch {
            fields.extend(["branch".to_owned(), branch.clone()]);
        }
        if let Some(commit) = &self.commit {
            fields.extend(["commit".to_owned(), commit.clone()]);
        }
        fields
    }

    /// Writes the request and queues its id on `queue` (a full key): the id.
    pub async fn queue(&self, redis: &Redis, queue: &str) -> Result<u64, ActorError> {
        let keys = redis.keys();
        let mut args = vec![keys.ndeploy_requests(), KEPT_SECS.to_string()];
        args.extend(self.fields());
        redis
            .command(eval(QUEUE, &[keys.ndeploy_seq(), queue.to_owned()], &args))
            .await
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

    #[test]
    fn requests_git_could_take_for_options_are_refused() {
        let url = "file:///srv/repo.git".to_owned();
        assert!(DeployRequest::new(url.clone(), None, None).is_ok());
        assert!(
            DeployRequest::new(url.clone(), Some("main".into()), Some("c6a9326f".into())).is_ok()
        );
        assert!(DeployRequest::new("--upload-pack=touch x".into(), None, None).is_err());
        assert!(DeployRequest::new("".into(), None, None).is_err());
        assert!(DeployRequest::new("a b".into(), None, None).is_err());
        assert!(DeployRequest::new(url.clone(), Some("-b".into()), None).is_err());
        assert!(DeployRequest::new(url.clone(), None, Some("HEAD~1".into())).is_err());
        assert!(DeployRequest::new(url, None, Some("abc".into())).is_err());
    }
}
