//! The deployer against a real redis-server: a missing request ends in an `error` result, a
//! repository made in a temporary directory is cloned (file://) and installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use actix::Addr;
use redis_async::resp_array;

use super::request::{result, DeployRequest};
use super::{DeploySettings, Deployer};
use crate::redis::{busy_list, Redis};
use crate::run_loop::{StopTaking, Taker, TakerActor};
use crate::test_redis::{cmd, list, push, registered, until, within, TestRedis};

type Registered = tokio::sync::watch::Receiver<bool>;

/// A directory of this test's own, removed with everything in it when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-{}", crate::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `git <args>` in `dir`, which must succeed; what it printed.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn start(redis: Redis, queue: &str, dir: &Path, on: Registered) -> Addr<TakerActor<Deployer>> {
    let settings = DeploySettings {
        dir: dir.to_owned(),
        install: Some("echo installed > installed.txt".into()),
        timeout: Duration::from_secs(20),
    };
    Deployer::new(redis, queue.to_owned(), "d", settings, on).start_taking()
}

/// Deployment `id`'s result, once there is one.
async fn result_of(redis: &Redis, id: u64) -> std::collections::HashMap<String, String> {
    until(&format!("deployment {id}'s result"), || async {
        let fields = result(redis, id).await.unwrap();
        (!fields.is_empty()).then_some(fields)
    })
    .await
}

#[actix::test]
async fn an_id_without_a_request_ends_in_an_error_and_one_that_is_no_id_is_dropped() {
    let (server, dir) = (TestRedis::start(), TempDir::new("ndeploy"));
    let redis = server.redis();
    let queue = redis.keys().named("deploy");
    push(&redis, &queue, &["not-a-number", "7"]).await;
    let (_keep, on) = registered();
    let deployer = start(server.redis(), &queue, &dir.0, on);
    let fields = result_of(&redis, 7).await;
    let error = &fields["error"];
    assert!(error.contains("there is no request"), "{error}");
    assert!(fields["failed"].parse::<u64>().is_ok(), "{fields:?}");
    within("StopTaking's answer", deployer.send(StopTaking))
        .await
        .unwrap();
    assert!(list(&redis, &busy_list(&queue, "d")).await.is_empty());
    assert!(list(&redis, &queue).await.is_empty());
    let kept = resp_array!["TTL", redis.keys().ndeploy_result(7)];
    assert!(cmd::<i64>(&redis, kept).await > 0);
}

#[actix::test]
async fn a_repository_is_cloned_at_its_commit_and_installed() {
    let (server, repo, deployments) = (
        TestRedis::start(),
        TempDir::new("ndeploy-repo"),
        TempDir::new("ndeploy-to"),
    );
    git(&repo.0, &["init", "--quiet"]);
    std::fs::write(repo.0.join("app.txt"), "first").unwrap();
    git(&repo.0, &["add", "app.txt"]);
    git(&repo.0, &["commit", "--quiet", "-m", "first"]);
    let first = git(&repo.0, &["rev-parse", "HEAD"]);
    std::fs::write(repo.0.join("app.txt"), "second").unwrap();
    git(&repo.0, &["commit", "--quiet", "-am", "second"]);
    let redis = server.redis();
    let queue = redis.keys().named("deploy");
    let url = format!("file://{}", repo.0.display());
    let at_first = DeployRequest::new(url.clone(), None, Some(first.clone()), None).unwrap();
    let at_first = at_first.queue(&redis, &queue).await.unwrap();
    let absent =
        DeployRequest::new(url, Some("main".into()), Some("abcdef12".into()), None).unwrap();
    let absent = absent.queue(&redis, &queue).await.unwrap();
    let (_keep, on) = registered();
    let deployer = start(server.redis(), &queue, &deployments.0, on);

    let fields = result_of(&redis, at_first).await;
    assert_eq!(fields.get("actualCommit"), Some(&first), "{fields:?}");
    let deployed = deployments.0.join(at_first.to_string());
    assert_eq!(fields["deployDir"], deployed.to_string_lossy());
    assert_eq!(
        std::fs::read_to_string(deployed.join("app.txt")).unwrap(),
        "first"
    );
    assert!(deployed.join("installed.txt").is_file());

    let fields = result_of(&redis, absent).await;
    let error = &fields["error"];
    assert!(
        error.contains("abcdef12 is not in the cloned history"),
        "{error}"
    );
    assert!(!deployments.0.join(absent.to_string()).exists());
    within("StopTaking's answer", deployer.send(StopTaking))
        .await
        .unwrap();
}

#[actix::test]
async fn tags_and_branches_name_commits_and_finished_ids_are_announced_once_each() {
    let (server, repo, deployments) = (
        TestRedis::start(),
        TempDir::new("ndeploy-refs"),
        TempDir::new("ndeploy-refs-to"),
    );
    git(&repo.0, &["init", "--quiet"]);
    std::fs::write(repo.0.join("app.txt"), "tagged").unwrap();
    git(&repo.0, &["add", "app.txt"]);
    git(&repo.0, &["commit", "--quiet", "-m", "tagged"]);
    git(&repo.0, &["tag", "v1"]);
    let tagged = git(&repo.0, &["rev-parse", "HEAD"]);
    git(&repo.0, &["checkout", "--quiet", "-b", "feature"]);
    std::fs::write(repo.0.join("app.txt"), "feature").unwrap();
    git(&repo.0, &["commit", "--quiet", "-am", "feature"]);
    let feature = git(&repo.0, &["rev-parse", "HEAD"]);
    git(&repo.0, &["checkout", "--quiet", "main"]);
    std::fs::write(repo.0.join("app.txt"), "main").unwrap();
    git(&repo.0, &["commit", "--quiet", "-am", "main"]);
    let main = git(&repo.0, &["rev-parse", "HEAD"]);

    let redis = server.redis();
    let queue = redis.keys().named("deploy");
    // A request hash already there (written by hand at the next id) is never written over.
    let by_hand = redis.keys().ndeploy_request(1);
    cmd::<i64>(&redis, resp_array!["HSET", &by_hand, "git", "kept"]).await;
    let url = format!("file://{}", repo.0.display());
    let ask = |commit: Option<&str>, tag: Option<&str>| {
        DeployRequest::new(
            url.clone(),
            None,
            commit.map(str::to_owned),
            tag.map(str::to_owned),
        )
        .unwrap()
    };
    let mut ids = Vec::new();
    for (commit, tag) in [
        (Some("v1"), None),
        (Some("feature"), None),
        (None, Some("v1")),
        (Some("HEAD"), None),
        (Some("feature"), Some("v1")),
        (None, Some("v9")),
    ] {
        ids.push(ask(commit, tag).queue(&redis, &queue).await.unwrap());
    }
    assert_eq!(ids, [2, 3, 4, 5, 6, 7]);
    let kept = resp_array!["HGET", &by_hand, "git"];
    assert_eq!(cmd::<String>(&redis, kept).await, "kept");
    let (_keep, on) = registered();
    let deployer = start(server.redis(), &queue, &deployments.0, on);

    for (id, commit) in [(2, &tagged), (3, &feature), (4, &tagged), (5, &main)] {
        let fields = result_of(&redis, id).await;
        assert_eq!(fields.get("actualCommit"), Some(commit), "{id}: {fields:?}");
        assert_eq!(fields.get("service").map(String::as_str), Some("d"));
    }
    let mismatch = &result_of(&redis, 6).await["error"];
    assert!(
        mismatch.contains("is not the commit of tag v1"),
        "{mismatch}"
    );
    let missing = &result_of(&redis, 7).await["error"];
    assert!(
        missing.contains("tag v9 is not in the repository"),
        "{missing}"
    );
    // Each finished id once on the finished list, oldest at the right for BRPOP.
    let finished = list(&redis, &redis.keys().ndeploy_finished()).await;
    assert_eq!(finished, ["7", "6", "5", "4", "3", "2"]);
    within("StopTaking's answer", deployer.send(StopTaking))
        .await
        .unwrap();
}
