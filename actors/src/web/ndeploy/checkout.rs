//! Which commit a deployment checks out: the branch's last one, or the commit, tag or branch
//! the request names (a name the clone has only as `origin/<name>` is found there too).

use std::path::Path;

use tokio::time::Instant;

use super::request::DeployRequest;
use super::steps;

/// Checks out (detached) what `request` asks for in the clone at `dir`; nothing when it asks
/// for the branch's last commit, which the clone has checked out already.
pub async fn check_out(dir: &Path, request: &DeployRequest, by: Instant) -> Result<(), String> {
    let wanted = match (request.tag.as_deref(), request.commit_asked()) {
        (None, None) => return Ok(()),
        (None, Some(commit)) => commit_named(dir, commit, by).await?,
        (Some(tag), commit) => {
            let tagged = resolve(dir, &format!("refs/tags/{tag}"), by)
                .await
                .ok_or_else(|| format!("tag {tag} is not in the repository"))?;
            if let Some(commit) = commit {
                if commit_named(dir, commit, by).await? != tagged {
                    return Err(format!("commit {commit} is not the commit of tag {tag}"));
                }
            }
            tagged
        }
    };
    steps::git(dir, &["checkout", "--quiet", "--detach", &wanted], by).await?;
    Ok(())
}

/// The full hash of the commit `name` names, as given or as a remote branch.
async fn commit_named(dir: &Path, name: &str, by: Instant) -> Result<String, String> {
    for candidate in [name.to_owned(), format!("refs/remotes/origin/{name}")] {
        if let Some(hash) = resolve(dir, &candidate, by).await {
            return Ok(hash);
        }
    }
    Err(format!("commit {name} is not in the cloned history"))
}

/// The commit `name` resolves to in the clone, if any.
async fn resolve(dir: &Path, name: &str, by: Instant) -> Option<String> {
    let object = format!("{name}^{{commit}}");
    let args = ["rev-parse", "--verify", "--quiet", &object];
    steps::git(dir, &args, by)
        .await
        .ok()
        .filter(|hash| matches!(hash.len(), 40 | 64) && hash.chars().all(|c| c.is_ascii_hexdigit()))
}
