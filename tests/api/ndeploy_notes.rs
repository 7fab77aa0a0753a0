//! ndeploy as the notes show it: a client using only `redis-cli` (`incr`, `hset`, `lpush`,
//! `brpop`, `hgetall`) on the notes' keys, `switchyard deploy` on the same queue, the result's
//! fields (`npmInstalled` when npm ran), the default directory under the home, and the
//! one-shot `switchyard ndeploy pop <seconds>`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::{read, text, Repository};
use crate::helpers::{unique_prefix, TempDir, TestApp, TestRedis};

/// A stand-in for npm on the deployer's PATH: `npm install` makes `node_modules`.
fn fake_npm(dir: &TempDir) -> String {
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let npm = bin.join("npm");
    std::fs::write(
        &npm,
        "#!/bin/sh\n[ \"$1\" = install ] && mkdir -p node_modules\n",
    )
    .unwrap();
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// `redis-cli` as the notes' client runs it, on key `name` under the prefix.
fn notes_request(redis: &TestRedis, prefix: &str, url: &str, branch: &str) -> String {
    let id = redis.cli(&["INCR", &format!("{prefix}ndeploy:req:id")]);
    let request = format!("{prefix}ndeploy:req:{id}");
    assert_eq!(redis.cli(&["HSETNX", &request, "git", url]), "1");
    redis.cli(&["HSET", &request, "branch", branch]);
    redis.cli(&["LPUSH", &format!("{prefix}ndeploy:req"), &id]);
    id
}

/// `brpop <ns>:res <seconds>`: the id finished next.
fn brpop_finished(redis: &TestRedis, prefix: &str) -> String {
    let finished = format!("{prefix}ndeploy:res");
    let popped = redis.cli(&["BRPOP", &finished, "20"]);
    let mut lines = popped.lines();
    assert_eq!(lines.next(), Some(finished.as_str()), "{popped}");
    lines.next().unwrap_or_default().to_owned()
}

/// `HGETALL`'s field, value lines as pairs.
fn hgetall(redis: &TestRedis, key: &str) -> Vec<(String, String)> {
    let all = redis.cli(&["HGETALL", key]);
    let lines: Vec<&str> = all.lines().collect();
    lines
        .chunks(2)
        .map(|pair| {
            (
                pair[0].to_owned(),
                pair.get(1).copied().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_client_of_the_notes_and_switchyard_deploy_share_one_queue_and_one_counter() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("ndeploy-notes");
    let repository = Repository::new("ndeploy-notes");
    let home = repository.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // The notes' defaults: the queue `ndeploy:req`, the directory under the home.
    let _deployer = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[
            ("NDEPLOY_QUEUE", "ndeploy:req"),
            ("HOME", &home.to_string_lossy()),
            ("PATH", &fake_npm(&repository.dir)),
            ("NDEPLOY_TIMEOUT_S", "5"),
        ])
        .start_process();
    let namespace = prefix.replace(':', "-") + "ndeploy";
    let deployments = home.join(".ndeploy").join(&namespace);

    let id = notes_request(&redis, &prefix, &repository.url(), "node");
    assert_eq!(brpop_finished(&redis, &prefix), id);
    let result = hgetall(&redis, &format!("{prefix}ndeploy:res:{id}"));
    let dir = deployments.join(&id).to_string_lossy().into_owned();
    assert_eq!(
        field(&result, "deployDir"),
        Some(dir.as_str()),
        "{result:?}"
    );
    for stamp in ["cloned", "npmInstalled"] {
        let at: u64 = field(&result, stamp).unwrap_or_default().parse().unwrap();
        assert!(at > 1_700_000_000, "{stamp}: {result:?}");
    }
    assert_eq!(field(&result, "install"), Some("npm install"));
    assert_eq!(field(&result, "actualCommit").map(str::len), Some(40));
    assert!(field(&result, "service").is_some_and(|s| s.ends_with("-d0")));
    assert!(std::path::Path::new(&dir).join("node_modules").is_dir());

    // `switchyard deploy` with no queue named takes the same queue and the next id.
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["ndeploy", "deploy", &repository.url()])
        .env("REDIS_URL", redis.url())
        .env("REDIS_PREFIX", &prefix)
        .env("NDEPLOY_TIMEOUT_S", "5")
        .env("RUST_LOG", "off")
        .env_remove("NDEPLOY_QUEUE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let next = (id.parse::<u64>().unwrap() + 1).to_string();
    let printed = text(&out.stdout);
    assert_eq!(
        printed.lines().last(),
        Some(deployments.join(&next).to_str().unwrap())
    );
    assert_eq!(read(&printed, "app.txt"), "version 2");
    assert_eq!(brpop_finished(&redis, &prefix), next);
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}ndeploy:req")]), "0");
}

/// `switchyard ndeploy pop <seconds>` with the deployers' variables.
fn pop(redis: &TestRedis, prefix: &str, repository: &Repository, seconds: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["ndeploy", "pop", seconds])
        .env("REDIS_URL", redis.url())
        .env("REDIS_PREFIX", prefix)
        .env("NDEPLOY_DIR", repository.dir.string("popped"))
        .env(
            "NDEPLOY_INSTALL",
            "if [ -f fail ]; then echo broken >&2; exit 3; fi",
        )
        .env("NDEPLOY_TIMEOUT_S", "5")
        .env("RUST_LOG", "off")
        .env_remove("NDEPLOY_QUEUE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its wait and a deployment's time at most: a pop that does not exit is a failure.
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "ndeploy pop {seconds} did not exit: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn pop_deploys_one_request_then_exits_and_says_so_when_none_came_or_it_failed() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("ndeploy-pop");
    let repository = Repository::new("ndeploy-pop");

    let started = Instant::now();
    let out = pop(&redis, &prefix, &repository, "1");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(text(&out.stderr).contains("nothing queued"), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Created although nothing was deployed into it.
    assert!(repository.dir.path().join("popped").is_dir());

    let first = notes_request(&redis, &prefix, &repository.url(), "main");
    let second = notes_request(&redis, &prefix, &repository.url(), "fail");
    let out = pop(&redis, &prefix, &repository, "5");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        repository.dir.string(&format!("popped/{first}"))
    );
    assert_eq!(brpop_finished(&redis, &prefix), first);
    // The second is still queued: one pop, one deployment.
    assert_eq!(
        redis.cli(&["LRANGE", &format!("{prefix}ndeploy:req"), "0", "-1"]),
        second
    );

    let out = pop(&redis, &prefix, &repository, "5");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("broken"), "{out:?}");
    let error = redis.cli(&["HGET", &format!("{prefix}ndeploy:res:{second}"), "error"]);
    assert!(error.contains("broken"), "{error}");
    assert_eq!(brpop_finished(&redis, &prefix), second);
    // Nothing left in hand, no registration left behind.
    assert_eq!(
        redis.cli(&["KEYS", &format!("{prefix}ndeploy:req:busy*")]),
        ""
    );
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}workers")]), "0");
}
