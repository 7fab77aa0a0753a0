//! `redis-sentinel://`: the master found through the sentinels, and followed when it fails.

use std::time::{Duration, Instant};

use super::load::{
    every_confirmed_message_once, failover_window, paced_requests, produce_confirmed,
};
use super::refused_and_logged_once;
use crate::helpers::{
    free_ports, redis_cli, unique_prefix, until, upload, SentinelSet, TestApp, MASTER_NAME, PNG,
};

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
    let logged = refused_and_logged_once(&app, "\"no-such-master\"").await;
    assert!(logged.contains("REDIS_URL"), "{logged}");
    assert!(logged.contains("does not know"), "{logged}");
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
    let started_at = Instant::now();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let killed_at = Instant::now();
        let new_master = set.kill_master_and_wait(Duration::from_secs(20));
        (set, new_master, killed_at.elapsed())
    });
    let mut statuses = Vec::new();
    let failed_over = loop {
        assert!(
            started_at.elapsed() < Duration::from_secs(30),
            "no failover followed"
        );
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

/// While a gateway with workers serves 2,000 requests and a mover moves 10,000 messages, the
/// master is killed: every request is answered (2xx, or 503/504 inside the failover window),
/// and every message whose push a replica confirmed is in exactly one list afterwards.
#[actix_rt::test]
async fn a_failover_under_load_answers_every_request_and_keeps_every_message() {
    const REQUESTS: usize = 2000;
    const MESSAGES: usize = 10_000;
    let set = SentinelSet::start("load");
    let prefix = unique_prefix("sentinel-load");
    let key = |name: &str| format!("{prefix}{name}");
    let gateway_port = free_ports(1).start().to_string();
    let fleet = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &set.url()),
            ("REDIS_PREFIX", &prefix),
            ("GATEWAY_PORT", &gateway_port),
            ("WORKER_QUEUES", "gateway:req"),
            ("LPUSH_IN", "in"),
            ("LPUSH_OUT", "out"),
        ])
        .start_process();
    let gateway = fleet.gateway();
    assert_eq!(gateway.get("/").await.status, 200);

    // Over about 4 s and the failover: the producer pushes the messages in batches of 50, each
    // followed by a WAIT for a replica; the master is killed after 1 s.
    let started = Instant::now();
    let sentinel_port = set.sentinels[0].port;
    let input = key("in");
    let producer = std::thread::spawn(move || {
        let to_master = |_| {
            let named = redis_cli(
                sentinel_port,
                &["SENTINEL", "get-master-addr-by-name", MASTER_NAME],
            );
            let port = named.lines().nth(1)?.trim().parse::<u16>().ok()?;
            Some(vec!["-p".into(), port.to_string()])
        };
        produce_confirmed(&input, MESSAGES, &to_master)
    });
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let mut set = set;
        set.kill_master_and_wait(Duration::from_secs(20));
        set
    });
    let answers = paced_requests(&gateway, REQUESTS, started).await;
    let confirmed = producer.join().unwrap();
    let set = killer.join().unwrap();
    let (failed, window) = failover_window(&answers);

    // Every confirmed message once: moved to the output, or still in the input or a busy list.
    let master = set.master();
    until(
        Duration::from_secs(20),
        "the mover empties its input",
        || async { (master.cli(&["LLEN", &key("in")]) == "0").then_some(()) },
    )
    .await;
    let mut held: Vec<String> = Vec::new();
    for list in master.cli(&["KEYS", &format!("{prefix}*")]).lines() {
        if master.cli(&["TYPE", list]) == "list" && !list.contains("gateway") {
            held.extend(
                master
                    .cli(&["LRANGE", list, "0", "-1"])
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    let held = every_confirmed_message_once(&held, &confirmed);
    eprintln!(
        "sentinel failover under load: {REQUESTS} requests, {} answered 503/504 over {window:?}; \
         {} messages confirmed by a replica, all kept once ({} held)",
        failed,
        confirmed.len(),
        held
    );
}

/// Behind sentinels an upload is acknowledged (201) only once a replica holds it; with every
/// replica gone it is refused in time (503), and `REDIS_WAIT_REPLICAS=0` accepts it again.
#[actix_rt::test]
async fn an_upload_is_acknowledged_only_once_a_replica_holds_it() {
    let mut set = SentinelSet::start("upload");
    let prefix = unique_prefix("sentinel-upload");
    let images = format!("{prefix}images");
    let url = set.url();
    let start = |wait: Option<&str>| {
        let builder = TestApp::builder().envs(&[("REDIS_URL", &url), ("REDIS_PREFIX", &prefix)]);
        match wait {
            Some(wanted) => builder.env("REDIS_WAIT_REPLICAS", wanted),
            None => builder,
        }
        .start_process()
    };
    let app = start(None);
    assert_eq!(
        upload(&app, &[("image", "image/png", PNG)]).await.status,
        201
    );
    // Read on the replicas at once, without waiting for them: they hold it already.
    let held = set.servers[1..]
        .iter()
        .filter(|replica| replica.cli(&["LLEN", &images]) == "1");
    assert!(held.count() >= 1, "a replica holds the acknowledged image");

    for replica in &mut set.servers[1..] {
        replica.stop();
    }
    let sent = Instant::now();
    let refused = upload(&app, &[("image", "image/png", PNG)]).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(sent.elapsed() < Duration::from_secs(1));
    // Not confirmed, yet queued on the master (docs/deploy.md): a client may send it twice.
    assert_eq!(set.servers[0].cli(&["LLEN", &images]), "2");

    let unconfirmed = start(Some("0"));
    let accepted = upload(&unconfirmed, &[("image", "image/png", PNG)]).await;
    assert_eq!(accepted.status, 201, "{}", accepted.text());
}
