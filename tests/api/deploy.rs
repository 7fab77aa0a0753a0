//! ndeploy: `switchyard deploy` queues a deployment, a deployer process clones it from a local
//! repository (file://), checks out the commit, runs the install and writes the result; a bad
//! URL, a failing install and a timeout each end in an `error` field and exit 1.

use std::process::{Command, Output};
use std::time::Duration;

use crate::helpers::{unique_prefix, until, TempDir, TestApp, TestRedis};

/// An install that fails when the checkout has a `fail` file, hangs when it has a `slow` one
/// (longer than the deployment's timeout), and otherwise leaves `installed.txt`.
const INSTALL: &str = "if [ -f fail ]; then echo broken >&2; exit 3; fi; \
    if [ -f slow ]; then sleep 37; fi; echo ok > installed.txt";

/// A repository with two commits on `main`, branches `fail` and `slow` adding those files, and
/// a branch `node` adding a `package.json`.
pub struct Repository {
    pub dir: TempDir,
    first: String,
    pub second: String,
}

impl Repository {
    pub fn new(test: &str) -> Self {
        let dir = TempDir::new(test);
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(&repo)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        git(&["init", "--quiet", "--initial-branch=main"]);
        std::fs::write(repo.join("app.txt"), "version 1").unwrap();
        git(&["add", "."]);
        git(&["commit", "--quiet", "-m", "one"]);
        let first = git(&["rev-parse", "HEAD"]);
        std::fs::write(repo.join("app.txt"), "version 2").unwrap();
        git(&["commit", "--quiet", "-am", "two"]);
        let second = git(&["rev-parse", "HEAD"]);
        for (branch, file) in [("fail", "fail"), ("slow", "slow"), ("node", "package.json")] {
            git(&["checkout", "--quiet", "-b", branch, "main"]);
            std::fs::write(repo.join(file), "{}").unwrap();
            git(&["add", "."]);
            git(&["commit", "--quiet", "-m", branch]);
        }
        git(&["checkout", "--quiet", "main"]);
        std::fs::create_dir_all(dir.path().join("deployments")).unwrap();
        Self { dir, first, second }
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.string("repo"))
    }
}

fn deployer(redis: &TestRedis, prefix: &str, repository: &Repository) -> TestApp {
    TestApp::builder()
        .redis(&redis.url(), prefix)
        .envs(&[
            ("NDEPLOY_QUEUE", "deploys"),
            ("NDEPLOY_DIR", &repository.dir.string("deployments")),
            ("NDEPLOY_INSTALL", INSTALL),
            ("NDEPLOY_TIMEOUT_S", "2"),
        ])
        .start_process()
}

/// `switchyard deploy <args>`, as an operator runs it.
pub fn deploy(redis: &TestRedis, prefix: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("deploy")
        .args(args)
        .env("REDIS_URL", redis.url())
        .env("REDIS_PREFIX", prefix)
        .env("NDEPLOY_QUEUE", "deploys")
        .env("NDEPLOY_TIMEOUT_S", "2")
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

/// The file `name` of the deployment at `dir`.
pub fn read(dir: &str, name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(dir).join(name)).unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

#[test]
fn a_repository_is_cloned_checked_out_and_installed() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("deploy");
    let repository = Repository::new("deploy");
    let _deployer = deployer(&redis, &prefix, &repository);

    let out = deploy(&redis, &prefix, &[&repository.url()]);
    assert!(out.status.success(), "{out:?}");
    let dir = text(&out.stdout);
    assert_eq!(dir, repository.dir.string("deployments/1"));
    assert_eq!(read(&dir, "app.txt"), "version 2");
    assert_eq!(read(&dir, "installed.txt"), "ok\n");
    let result = format!("{prefix}ndeploy:res:1");
    assert_eq!(
        redis.cli(&["HGET", &result, "actualCommit"]),
        repository.second
    );
    assert_eq!(redis.cli(&["HGET", &result, "deployDir"]), dir);
    assert_eq!(redis.cli(&["HGET", &result, "install"]), INSTALL);
    assert_eq!(redis.cli(&["HEXISTS", &result, "error"]), "0");
    // Not npm's install: no npmInstalled; the deployer that did it.
    assert_eq!(redis.cli(&["HEXISTS", &result, "npmInstalled"]), "0");
    assert!(redis.cli(&["HGET", &result, "service"]).ends_with("-d0"));
    assert_eq!(
        redis.cli(&["HGET", &format!("{prefix}ndeploy:req:1"), "git"]),
        repository.url()
    );

    // A branch and a commit on it.
    let out = deploy(
        &redis,
        &prefix,
        &[&repository.url(), "main", &repository.first],
    );
    assert!(out.status.success(), "{out:?}");
    let dir = text(&out.stdout);
    assert_eq!(read(&dir, "app.txt"), "version 1");
    let result = format!("{prefix}ndeploy:res:2");
    assert_eq!(
        redis.cli(&["HGET", &result, "actualCommit"]),
        repository.first
    );
    // Nothing left queued or in hand.
    assert_eq!(redis.cli(&["KEYS", &format!("{prefix}deploys*")]), "");
}

#[test]
fn a_bad_url_a_failing_install_and_a_timeout_each_end_in_an_error() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("deploy-errors");
    let repository = Repository::new("deploy-errors");
    let _deployer = deployer(&redis, &prefix, &repository);
    let missing = format!("file://{}", repository.dir.string("nothing-here"));
    let url = repository.url();
    let cases = [
        (vec![missing.as_str()], "git clone failed"),
        (vec![url.as_str(), "no-such-branch"], "git clone failed"),
        (
            vec![url.as_str(), "main", "0123456789abcdef"],
            "commit 0123456789abcdef is not in the cloned history",
        ),
        (
            vec![url.as_str(), "fail"],
            "failed (exit status: 3): broken",
        ),
        (vec![url.as_str(), "slow"], "did not finish in time"),
    ];
    for (id, (args, expected)) in cases.iter().enumerate() {
        let started = std::time::Instant::now();
        let out = deploy(&redis, &prefix, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(text(&out.stdout).is_empty(), "{args:?}: {out:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(10), "{args:?}");
        let result = format!("{prefix}ndeploy:res:{}", id + 1);
        assert!(
            redis.cli(&["HGET", &result, "error"]).contains(expected),
            "{args:?}"
        );
        assert_eq!(redis.cli(&["HEXISTS", &result, "deployDir"]), "0");
        let dir = repository
            .dir
            .path()
            .join(format!("deployments/{}", id + 1));
        assert!(
            !dir.exists(),
            "{args:?}: a failed deployment's directory is removed"
        );
    }
    // The install that hung was killed with everything it started.
    let sleeping = Command::new("pgrep")
        .args(["-f", "sleep 37"])
        .output()
        .unwrap();
    assert!(text(&sleeping.stdout).is_empty(), "{sleeping:?}");
}

#[test]
fn bad_requests_are_refused_and_nothing_is_queued() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("deploy-refused");
    for args in [
        vec![],
        vec!["--upload-pack=touch /tmp/x"],
        vec!["file:///x", "-b"],
        vec!["file:///x", "main", "HEAD~1"],
        vec!["file:///x", "main", "abc123", "extra"],
    ] {
        let out = deploy(&redis, &prefix, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            text(&out.stderr).contains("Usage: switchyard deploy"),
            "{args:?}"
        );
    }
    assert_eq!(redis.cli(&["KEYS", &format!("{prefix}*")]), "");
}

#[actix_rt::test]
async fn an_id_without_a_request_gets_an_error_and_a_stray_entry_is_dropped() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("deploy-stray");
    let repository = Repository::new("deploy-stray");
    let _deployer = deployer(&redis, &prefix, &repository);
    let queue = format!("{prefix}deploys");
    redis.cli(&["LPUSH", &queue, "not-a-number", "41"]);
    let result = format!("{prefix}ndeploy:res:41");
    let limit = Duration::from_secs(5);
    until(limit, "the result of 41", || async {
        let error = redis.cli(&["HGET", &result, "error"]);
        error.contains("there is no request").then_some(())
    })
    .await;
    until(limit, "the queue and busy lists emptied", || async {
        redis
            .cli(&["KEYS", &format!("{queue}*")])
            .is_empty()
            .then_some(())
    })
    .await;
}

#[test]
fn a_deployment_taken_while_the_deployer_was_paused_is_deployed_when_it_wakes() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("deploy-paused");
    let repository = Repository::new("deploy-paused");
    let mut paused = deployer(&redis, &prefix, &repository);
    let waited = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    waited("the deployer registers", &|| {
        redis.cli(&["ZCARD", &format!("{prefix}workers")]) == "1"
    });
    // Paused past its BLMOVE's timer: Redis moves the id into its busy list all the same.
    paused.signal("STOP");
    std::thread::scope(|scope| {
        let queued = scope.spawn(|| deploy(&redis, &prefix, &[&repository.url()]));
        waited("the paused deployer holds the id", &|| {
            let busy = redis.cli(&["KEYS", &format!("{{{prefix}deploys}}:busy:*")]);
            !busy.is_empty() && redis.cli(&["LRANGE", &busy, "0", "-1"]) == "1"
        });
        std::thread::sleep(Duration::from_millis(2500));
        paused.signal("CONT");
        let out = queued.join().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(text(&out.stdout), repository.dir.string("deployments/1"));
    });
    assert_eq!(redis.cli(&["KEYS", &format!("{prefix}deploys*")]), "");
}
