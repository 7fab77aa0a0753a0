//! `switchyard ndeploy deploy <git url> [branch] [commit] [--tag <tag>]` (or `switchyard
//! deploy ...`): queues a deployment for ndeploy, waits for its result, prints the directory
//! last (exit 0) or the error on stderr (exit 1). Reads `REDIS_URL`, `REDIS_PREFIX` and
//! `NDEPLOY_TIMEOUT_S` as the deployers do; its queue is `--queue` or `NDEPLOY_QUEUE`
//! (`ndeploy:req` when unset).

use std::process::ExitCode;
use std::time::Duration;

use switchyard_actors::redis::Redis;
use switchyard_actors::web::ndeploy::request::{self, DeployRequest};
use tokio::time::Instant;

use crate::cli::{usage, DeployArgs};

/// How often the result is looked for.
const POLL: Duration = Duration::from_millis(250);

/// Longer than a deployer's own timeout: the time to be taken, and to write the result.
const GRACE: Duration = Duration::from_secs(60);

/// After this long still queued, the command says so (once).
const HINT_AFTER: Duration = Duration::from_secs(10);

/// Runs the command, invoked as `path` (for its usage line).
pub async fn run(args: DeployArgs, path: &[&str]) -> ExitCode {
    let given = |value: Option<String>| value.filter(|v| !v.is_empty());
    let (branch, commit, tag) = (given(args.branch), given(args.commit), given(args.tag));
    let request = match DeployRequest::new(args.git_url, branch, commit, tag) {
        Ok(request) => request,
        Err(err) => {
            eprintln!("{err}\n{}", usage(path));
            return ExitCode::from(2);
        }
    };
    // This command is no deployer (it would make NDEPLOY_DIR): its queue is its `--queue`.
    let config = match super::load_config(None).await {
        Ok(config) => config,
        Err(status) => return status,
    };
    let redis = Redis::new(config.redis.clone());
    let queue = redis.keys().named(&args.queue);
    let id = match request.queue(&redis, &queue).await {
        Ok(id) => id,
        Err(err) => {
            eprintln!("the deployment could not be queued: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("deployment {id} queued on {queue}");
    match wait(&redis, &queue, id, config.ndeploy_timeout + GRACE).await {
        Ok(dir) => {
            println!("{dir}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("deployment {id}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The deployment's directory once its result is written, or why there is none.
async fn wait(redis: &Redis, queue: &str, id: u64, longest: Duration) -> Result<String, String> {
    let started = Instant::now();
    let mut hinted = false;
    while started.elapsed() < longest {
        tokio::time::sleep(POLL).await;
        // Redis out of reach for a moment is waited out like a slow deployment.
        let Ok(mut result) = request::result(redis, id).await else {
            continue;
        };
        if let Some(error) = result.remove("error") {
            return Err(error);
        }
        if let Some(dir) = result.remove("deployDir") {
            return Ok(dir);
        }
        if !hinted && started.elapsed() > HINT_AFTER {
            hinted = true;
            eprintln!("deployment {id} has no result yet: is a deployer taking from {queue}?");
        }
    }
    match request::withdraw(redis, queue, id).await {
        Ok(true) => Err(format!(
            "no deployer took it within {} s; withdrawn from {queue}",
            longest.as_secs()
        )),
        _ => Err(format!(
            "no result within {} s; it will be in {}",
            longest.as_secs(),
            redis.keys().ndeploy_result(id)
        )),
    }
}
