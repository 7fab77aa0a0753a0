//! `redis-sentinel://`: the master found through the sentinels, and followed when it fails.

use std::time::{Duration, Instant};

use crate::helpers::{unique_prefix, until, SentinelSet, TestApp, MASTER_NAME};

#[actix_rt::test]
async fn the_master_is_found_through_the_sentinels() {
    let set = SentinelSet::start("found");
    let prefix = unique_prefix("sentinel-found");
    let app = TestApp::builder()
        .envs(&[("REDIS_URL", &set.url()), ("REDIS_PREFIX", &prefix)])
        .start_process();
    assert_eq!(app.get("/set").await.status, 200);
    let stored = set.master().cli(&["GET", &format!("{prefix}message")]);
    assert!(stored.starts_with("this message"), "{stored:?}");
}

#[actix_rt::test]
async fn sentinels_that_do_not_know_the_master_name_are_logged_once() {
    let set = SentinelSet::start("unknown");
    let url = set.url().replace(MASTER_NAME, "no-such-master");
    let app = TestApp::builder()
        .envs(&[("REDIS_URL", &url), ("REDIS_PREFIX", "unknown:")])
        .start_process();
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(app.get("/set").await.status, 503);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let logged = until(Duration::from_secs(5), "the refusal is logged", || async {
        let lines = app.logged("\"no-such-master\"");
        (!lines.is_empty()).then_some(lines)
    })
    .await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("REDIS_URL"), "{logged:?}");
    assert!(logged[0].contains("does not know"), "{logged:?}");
}

/// Requests one after another while the master is killed: each is answered within 1 s, 503
/// only while the sentinels fail over, and switchyard follows them without a restart.
#[actix_rt::test]
async fn a_killed_master_is_replaced_without_a_restart() {
    let mut set = SentinelSet::start("failover");
    let prefix = unique_prefix("sentinel-failover");
    let app = TestApp::builder()
        .envs(&[("REDIS_URL", &set.url()), ("REDIS_PREFIX", &prefix)])
        .start_process();
    let put = |n: usize| {
        let app = &app;
        async move {
            let started = Instant::now();
            let status = app.get("/set").await.status;
            assert!(started.elapsed() < Duration::from_secs(1), "request {n}");
            status
        }
    };
    assert_eq!(put(0).await, 200);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let killed_at = Instant::now();
        let new_master = set.kill_master_and_wait(Duration::from_secs(20));
        (set, new_master, killed_at.elapsed())
    });
    let mut statuses = Vec::new();
    let failed_over = loop {
        statuses.push(put(statuses.len() + 1).await);
        if killer.is_finished() && statuses.ends_with(&[200, 200, 200]) {
            break killer.join().unwrap();
        }
    };
    let (set, new_master, sentinels_took) = failed_over;
    let refused: Vec<usize> = (0..statuses.len())
        .filter(|&n| statuses[n] != 200)
        .collect();
    assert!(refused.iter().all(|&n| statuses[n] == 503), "{statuses:?}");
    eprintln!(
        "{} requests, {} answered 503, the sentinels took {sentinels_took:?}",
        statuses.len(),
        refused.len()
    );
    assert_eq!(set.master().port, new_master);
    let stored = set.master().cli(&["GET", &format!("{prefix}message")]);
    assert!(stored.starts_with("this message"), "{stored:?}");
}
