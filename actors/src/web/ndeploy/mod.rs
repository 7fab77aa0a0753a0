//! [`Deployer`]: the notes' `ndeploy`. Takes a deployment id from its queue (`BLMOVE` into its
//! busy list, so a deployer that dies has the id put back by a live one), reads the request,
//! clones it with git into `<dir>/<id>`, checks out the commit, runs the install command, and
//! writes the result hash, removing the id from its busy list in the same script. Every step
//! is bounded by the deployment's timeout; every failure ends in the result's `error` field.

pub mod request;
mod steps;

use std::path::{Path, PathBuf};
use std::time::Duration;

use redis_async::resp_array;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::gateway::message::unix_millis;
use crate::redis::{busy_list, eval, Redis};
use crate::run_loop::{until_registered, Taker};
use request::{DeployRequest, KEPT_SECS};

/// After Redis failed, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// KEYS[1] the result, KEYS[2] the busy list; ARGV[1] the id, ARGV[2] the result's lifetime,
/// then field, value pairs.
const FINISH: &str = "redis.call('DEL', KEYS[1]) \
    redis.call('HSET', KEYS[1], unpack(ARGV, 3)) \
    redis.call('EXPIRE', KEYS[1], ARGV[2]) \
    redis.call('LREM', KEYS[2], 0, ARGV[1]) \
    return 1";

/// Where and how deployments are made.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// Each deployment goes to `<dir>/<id>`.
    pub dir: PathBuf,
    /// A shell command run in the deployment's directory; `None`: `npm install` when there is a
    /// `package.json`, nothing otherwise.
    pub install: Option<String>,
    /// For the whole deployment: clone, checkout and install.
    pub timeout: Duration,
}

/// Deploys the ids it takes from its queue, one at a time; runs as a
/// [`TakerActor`](crate::run_loop::TakerActor).
pub struct Deployer {
    redis: Redis,
    queue: String,
    busy: String,
    settings: DeploySettings,
    registered: watch::Receiver<bool>,
}

impl Deployer {
    /// Takes ids from `queue` (a full key) as `deployer_id` once `registered` turns true.
    /// `redis` must be the deployer's own: it blocks.
    pub fn new(
        redis: Redis,
        queue: String,
        deployer_id: &str,
        settings: DeploySettings,
        registered: watch::Receiver<bool>,
    ) -> Self {
        Self {
            busy: busy_list(&queue, deployer_id),
            redis,
            queue,
            settings,
            registered,
        }
    }
}

impl Taker for Deployer {
    async fn run(self, mut stopping: watch::Receiver<bool>) {
        if !until_registered(&self.registered, &mut stopping).await {
            return;
        }
        // A take whose answer was lost (a pause past its timer) may have moved an id into the
        // busy list all the same: it is looked for there before the next take.
        let mut busy_may_hold = true;
        while !*stopping.borrow() {
            let taken = match self.take(&mut busy_may_hold).await {
                Ok(Some(taken)) => taken,
                Ok(None) => continue,
                Err(_) => {
                    busy_may_hold = true;
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            let Ok(id) = taken.parse::<u64>() else {
                log::warn!(
                    "{taken:?} on {} is not a deployment id, dropped",
                    self.queue
                );
                self.finish_unparsed(&taken).await;
                continue;
            };
            log::info!("deployment {id} started");
            let fields = match self.deploy(id).await {
                Ok(fields) => {
                    log::info!("deployment {id} done: {fields:?}");
                    fields
                }
                Err(error) => {
                    log::warn!("deployment {id} failed: {error}");
                    vec![
                        ("error", error),
                        ("failed", (unix_millis() / 1000).to_string()),
                    ]
                }
            };
            // The result must reach Redis: kept trying (the id stays in the busy list till then;
            // a deployer stopped meanwhile leaves it there, to be put back and deployed again).
            while self.finish(id, &fields).await.is_err() && !*stopping.borrow() {
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

impl Deployer {
    /// The oldest id in the busy list when it may hold one, else the next from the queue.
    async fn take(&self, busy_may_hold: &mut bool) -> Result<Option<String>, crate::ActorError> {
        if *busy_may_hold {
            let oldest = resp_array!["LINDEX", self.busy.as_str(), "-1"];
            let held: Option<String> = self.redis.command(oldest).await?;
            if held.is_some() {
                return Ok(held);
            }
            *busy_may_hold = false;
        }
        self.redis.wait_and_move(&self.queue, &self.busy).await
    }

    /// The result's fields, or the error that ended the deployment.
    async fn deploy(&self, id: u64) -> Result<Vec<(&'static str, String)>, String> {
        let by = Instant::now() + self.settings.timeout;
        let key = self.redis.keys().ndeploy_request(id);
        let fields = self
            .redis
            .hash(&key)
            .await
            .map_err(|err| format!("the request {key} could not be read: {err}"))?;
        if fields.is_empty() {
            return Err(format!("there is no request {key}"));
        }
        let request = DeployRequest::from_fields(fields)?;
        let dir = self.settings.dir.join(id.to_string());
        // A deployer that died part way left its directory: the id is deployed again, afresh.
        remove_dir(&dir).await;
        let deployed = self.deploy_into(&dir, &request, by).await;
        if deployed.is_err() {
            remove_dir(&dir).await;
        }
        deployed
    }

    async fn deploy_into(
        &self,
        dir: &Path,
        request: &DeployRequest,
        by: Instant,
    ) -> Result<Vec<(&'static str, String)>, String> {
        let target = dir.to_string_lossy().into_owned();
        let mut clone = vec!["clone", "--quiet"];
        if request.commit.is_none() {
            // Only the branch's head is wanted: no history.
            clone.extend(["--depth", "1"]);
        }
        if let Some(branch) = &request.branch {
            clone.extend(["--branch", branch]);
        }
        clone.extend(["--", &request.git, &target]);
        steps::git(&self.settings.dir, &clone, by).await?;
        let cloned = (unix_millis() / 1000).to_string();
        if let Some(commit) = &request.commit {
            let object = format!("{commit}^{{commit}}");
            if steps::git(dir, &["rev-parse", "--verify", "--quiet", &object], by)
                .await
                .is_err()
            {
                return Err(format!("commit {commit} is not in the cloned history"));
            }
            steps::git(dir, &["checkout", "--quiet", "--detach", commit], by).await?;
        }
        let actual_commit = steps::git(dir, &["rev-parse", "HEAD"], by).await?;
        let install = match &self.settings.install {
            Some(command) => Some(command.clone()),
            None if dir.join("package.json").is_file() => Some("npm install".to_owned()),
            None => None,
        };
        if let Some(install) = &install {
            steps::shell(dir, install, by).await?;
        }
        Ok(vec![
            ("deployDir", target),
            ("cloned", cloned),
            ("installed", (unix_millis() / 1000).to_string()),
            ("install", install.unwrap_or_else(|| "none".to_owned())),
            ("actualCommit", actual_commit),
        ])
    }

    async fn finish(&self, id: u64, fields: &[(&str, String)]) -> Result<(), crate::ActorError> {
        let keys = [self.redis.keys().ndeploy_result(id), self.busy.clone()];
        let mut args = vec![id.to_string(), KEPT_SECS.to_string()];
        for (name, value) in fields {
            args.extend([(*name).to_owned(), value.clone()]);
        }
        let _: i64 = self.redis.command(eval(FINISH, &keys, &args)).await?;
        Ok(())
    }

    async fn finish_unparsed(&self, taken: &str) {
        let command = resp_array!["LREM", self.busy.as_str(), "0", taken];
        let _ = self.redis.command::<i64>(command).await;
    }
}

/// Removes a deployment's directory, if there is one.
async fn remove_dir(dir: &Path) {
    let dir = dir.to_owned();
    let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err((dir, err)),
        _ => Ok(()),
    })
    .await;
    if let Ok(Err((dir, err))) = removed {
        log::warn!("{} could not be removed: {err}", dir.display());
    }
}

#[cfg(test)]
mod tests;
