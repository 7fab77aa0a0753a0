//! `switchyard ndeploy pop <seconds>`: the notes' one-shot deployer. Takes one deployment id
//! from the queue (`--queue` or `NDEPLOY_QUEUE`, `ndeploy:req` when unset), waiting at most
//! `<seconds>`, deploys it as a deployer process would, prints its directory and exits 0; exits
//! 1 when the deployment failed (the error on stderr and in its result) or Redis could not be
//! reached, 3 when none came, 2 on a bad configuration. While it runs it is registered in `<prefix>workers` like any deployer,
//! so a pop killed half way has its id put back on the queue (by the next pop, or a deployer).

use std::process::ExitCode;
use std::time::Duration;

use actix::Actor;
use switchyard_actors::random_id;
use switchyard_actors::redis::Redis;
use switchyard_actors::roster::{DeregisterTakers, TakerRoster};
use switchyard_actors::web::ndeploy::{DeploySettings, Deployer, Outcome};
use tokio::sync::watch;

use crate::cli::PopArgs;
use crate::config::TakerSpec;

/// Past the wait and the deployment's own timeout, how long its result is still tried while
/// Redis is out of reach before the command gives up (the id stays in its busy list, to be
/// deployed again).
const RESULT_GRACE: Duration = Duration::from_secs(60);

/// The exit status when nothing was queued within the wait.
const NOTHING_QUEUED: u8 = 3;

/// Runs the command.
pub async fn run(args: PopArgs) -> ExitCode {
    let config = match super::load_config(Some(args.queue.clone())).await {
        Ok(config) => config,
        Err(status) => return status,
    };
    let Some((dir, install)) = config.takers.iter().find_map(|spec| match spec {
        TakerSpec::Deployer { dir, install, .. } => Some((dir.clone(), install.clone())),
        _ => None,
    }) else {
        eprintln!("no deployer configured");
        return ExitCode::from(2);
    };
    let wait = Duration::from_secs(args.seconds);
    let settings = DeploySettings {
        dir,
        install,
        timeout: config.ndeploy_timeout,
    };
    // Its own connection for the blocking take; the roster's heartbeat has another.
    let redis = Redis::new(config.redis.clone());
    let input = redis.keys().named(&args.queue);
    let id = format!("{}-pop", random_id());
    let (registered_tx, registered) = watch::channel(false);
    let roster = TakerRoster::new(
        Redis::new(config.redis.clone()),
        vec![id.clone()],
        vec![input.clone()],
        config.heartbeat,
        registered_tx,
    )
    .start();
    // Registered before it takes: a busy list nobody registered is put back by others' scans.
    // (`wait_for`'s answer holds the channel's lock: it is dropped within the statement, or
    // the roster could never write to the channel again.)
    let mut until_registered = registered.clone();
    let registered_in_time = matches!(
        tokio::time::timeout(wait, until_registered.wait_for(|on| *on)).await,
        Ok(Ok(_))
    );
    if !registered_in_time {
        eprintln!(
            "could not register within {} s: is Redis reachable?",
            args.seconds
        );
        return ExitCode::FAILURE;
    }
    let deployer = Deployer::new(redis, input.clone(), &id, settings, registered);
    let (give_up, stopping) = watch::channel(false);
    let limit = wait + config.ndeploy_timeout + RESULT_GRACE;
    actix::spawn(async move {
        tokio::time::sleep(limit).await;
        let _ = give_up.send(true);
    });
    let outcome = deployer.pop(wait, &stopping).await;
    if let Ok(Err(err)) = roster.send(DeregisterTakers).await {
        log::warn!("{id}'s registration stays until it lapses: {err}");
    }
    match outcome {
        Some(Outcome::Deployed { dir, .. }) => {
            println!("{dir}");
            ExitCode::SUCCESS
        }
        Some(Outcome::Failed { id, error }) => {
            eprintln!("deployment {id}: {error}");
            ExitCode::FAILURE
        }
        Some(Outcome::Unfinished { taken }) => {
            eprintln!("{taken:?} was taken from {input} but not deployed");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("nothing queued on {input} within {} s", args.seconds);
            ExitCode::from(NOTHING_QUEUED)
        }
    }
}
