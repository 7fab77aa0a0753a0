//! [`Deployer`]: the notes' `ndeploy`. Takes a deployment id from its queue (`BLMOVE` into its
//! busy list, so a deployer that dies has the id put back by a live one), reads the request,
//! clones it with git into `<dir>/<id>`, checks out the commit or tag, runs the install
//! command, and writes the result hash, removing the id from its busy list and pushing it onto
//! the finished list in the same script. Every step is bounded by the deployment's timeout;
//! every failure ends in the result's `error` field.

mod checkout;
pub mod request;
mod scripts;
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
use scripts::{ANNOUNCE, FINISH, WRITE_RESULT};

/// After Redis failed, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// The finished ids kept on the finished list for clients that `BRPOP` them; older ones
/// nobody took are dropped.
const FINISHED_KEPT: usize = 1000;

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
    /// Its id in `<prefix>workers`, written in each result as `service`.
    id: String,
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
            id: deployer_id.to_owned(),
            redis,
            queue,
            settings,
            registered,
        }
    }
}

/// How one deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deployed into `dir`.
    Deployed { id: u64, dir: String },
    /// Failed: `error` says why (also in the result hash).
    Failed { id: u64, error: String },
    /// Taken but not deployed: not an id, or its result could not be written before stopping
    /// (then it stays in the busy list, to be deployed again).
    Unfinished { taken: String },
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
            match self.take(&mut busy_may_hold).await {
                Ok(Some(taken)) => {
                    self.deploy_taken(taken, &stopping).await;
                }
                Ok(None) => {}
                Err(_) => {
                    busy_may_hold = true;
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }
}

impl Deployer {
    /// The notes' `ndeploy pop <seconds>`: takes one id, waiting up to `wait` for one, and
    /// deploys it; `None` when none came. Its result is kept trying until `stopping`.
    pub async fn pop(&self, wait: Duration, stopping: &watch::Receiver<bool>) -> Option<Outcome> {
        let by = Instant::now() + wait;
        let mut busy_may_hold = true;
        while Instant::now() < by {
            match self.take(&mut busy_may_hold).await {
                Ok(Some(taken)) => return Some(self.deploy_taken(taken, stopping).await),
                Ok(None) => {}
                Err(err) => {
                    log::warn!("nothing taken from {}: {err}", self.queue);
                    busy_may_hold = true;
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
        None
    }

    /// Deploys what was taken and writes its result, kept trying until `stopping` (the id
    /// stays in the busy list till then; a deployer stopped meanwhile leaves it there, to be
    /// put back and deployed again).
    async fn deploy_taken(&self, taken: String, stopping: &watch::Receiver<bool>) -> Outcome {
        let Ok(id) = taken.parse::<u64>() else {
            log::warn!(
                "{taken:?} on {} is not a deployment id, dropped",
                self.queue
            );
            self.finish_unparsed(&taken).await;
            return Outcome::Unfinished { taken };
        };
        log::info!("deployment {id} started");
        let (fields, outcome) = match self.deploy(id).await {
            Ok(fields) => {
                log::info!("deployment {id} done: {fields:?}");
                let dir = fields
                    .iter()
                    .find(|(name, _)| *name == "deployDir")
                    .map(|(_, dir)| dir.clone())
                    .unwrap_or_default();
                (fields, Outcome::Deployed { id, dir })
            }
            Err(error) => {
                log::warn!("deployment {id} failed: {error}");
                let fields = vec![
                    ("error", error.clone()),
                    ("failed", (unix_millis() / 1000).to_string()),
                ];
                (fields, Outcome::Failed { id, error })
            }
        };
        loop {
            if self.finish(id, &fields).await.is_ok() {
                return outcome;
            }
            if *stopping.borrow() {
                return Outcome::Unfinished { taken };
            }
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

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
        if request.commit_asked().is_none() && request.tag.is_none() {
            // Only the branch's last commit is wanted: no history.
            clone.extend(["--depth", "1"]);
        }
        if let Some(branch) = &request.branch {
            clone.extend(["--branch", branch]);
        }
        clone.extend(["--", &request.git, &target]);
        steps::git(&self.settings.dir, &clone, by).await?;
        let cloned = (unix_millis() / 1000).to_string();
        checkout::check_out(dir, request, by).await?;
        let actual_commit = steps::git(dir, &["rev-parse", "HEAD"], by).await?;
        let install = match &self.settings.install {
            Some(command) => Some(command.clone()),
            None if dir.join("package.json").is_file() => Some("npm install".to_owned()),
            None => None,
        };
        let mut fields = vec![("deployDir", target), ("cloned", cloned)];
        if let Some(install) = &install {
            steps::shell(dir, install, by).await?;
            let installed = (unix_millis() / 1000).to_string();
            // The notes' field, for an install that was npm's.
            if install.split_whitespace().next() == Some("npm") {
                fields.push(("npmInstalled", installed.clone()));
            }
            fields.push(("installed", installed));
        }
        fields.extend([
            ("install", install.unwrap_or_else(|| "none".to_owned())),
            ("actualCommit", actual_commit),
            ("service", self.id.clone()),
        ]);
        Ok(fields)
    }

    async fn finish(&self, id: u64, fields: &[(&str, String)]) -> Result<(), crate::ActorError> {
        let keys = self.redis.keys();
        let keys = [
            keys.ndeploy_result(id),
            self.busy.clone(),
            keys.ndeploy_finished(),
        ];
        let mut args = vec![
            id.to_string(),
            KEPT_SECS.to_string(),
            FINISHED_KEPT.to_string(),
        ];
        for (name, value) in fields {
            args.extend([(*name).to_owned(), value.clone()]);
        }
        if self.redis.co_located(&[&keys[0], &keys[1], &keys[2]]) {
            let _: i64 = self.redis.command(eval(FINISH, &keys, &args)).await?;
            return Ok(());
        }
        let [result, busy, finished] = keys;
        let _: i64 = self
            .redis
            .command(eval(WRITE_RESULT, &[result], &args))
            .await?;
        let held = resp_array!["LPOS", busy.as_str(), args[0].as_str()];
        if self.redis.command::<Option<i64>>(held).await?.is_some() {
            let _: i64 = self
                .redis
                .command(eval(ANNOUNCE, &[finished], &args))
                .await?;
            let removed = resp_array!["LREM", busy.as_str(), "0", args[0].as_str()];
            let _: i64 = self.redis.command(removed).await?;
        }
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
