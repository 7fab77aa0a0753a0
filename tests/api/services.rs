//! Service lifecycle: every process registers in Redis, is listed by `/services`, stops when its
//! registration is deleted (by hand or through `/services/<id>/stop`), lapses when killed, and
//! registers again after Redis was out of reach.

use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::{json, Value as Json};

use crate::helpers::{free_ports, unique_prefix, until, TempDir, TestApp, TestRedis};

const TOKEN: &str = "a-long-enough-admin-token";

fn service(redis: &TestRedis, prefix: &str) -> TestApp {
    TestApp::builder()
        .redis(&redis.url(), prefix)
        .envs(&[("HEARTBEAT_MS", "200"), ("ADMIN_TOKEN", TOKEN)])
        .start_process()
}

/// The live services `app` lists, once there are `count`.
async fn listed(app: &TestApp, count: usize) -> Vec<Json> {
    until(
        Duration::from_secs(5),
        &format!("{count} services listed"),
        || async {
            let reply = app.get("/services").await;
            let services = reply.json().as_array().cloned().unwrap_or_default();
            (reply.status == 200 && services.len() == count).then_some(services)
        },
    )
    .await
}

/// The service id `app`'s process registered under.
async fn id_of(app: &TestApp, among: &[Json]) -> u64 {
    let pid = app.pid();
    among
        .iter()
        .find(|service| service["pid"] == json!(pid))
        .and_then(|service| service["id"].as_u64())
        .expect("the process is listed")
}

#[actix_rt::test]
async fn every_process_is_listed_with_what_it_does() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-list");
    let app = service(&redis, &prefix);
    let services = listed(&app, 1).await;
    let id = id_of(&app, &services).await;
    assert_eq!(services[0]["roles"], "main");
    assert_eq!(services[0]["host"], "127.0.0.1");
    assert_eq!(services[0]["version"], env!("CARGO_PKG_VERSION"));
    let ttl: u64 = redis
        .cli(&["PTTL", &format!("{prefix}service:{id}")])
        .parse()
        .unwrap();
    assert!(
        ttl > 0 && ttl <= 600,
        "expires after three heartbeats: {ttl} ms"
    );
}

#[actix_rt::test]
async fn a_process_renews_its_renewed_time_and_never_writes_over_a_key_that_exists() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-renewed");
    // A hash at the id the counter gives next: not this process's to write over.
    let squatted = format!("{prefix}service:1");
    redis.cli(&["HSET", &squatted, "pid", "99"]);
    let app = service(&redis, &prefix);
    let services = listed(&app, 1).await;
    assert_eq!(id_of(&app, &services).await, 2);
    assert_eq!(redis.cli(&["HGETALL", &squatted]), "pid\n99");
    assert!(!app.logged("exists already: not written over").is_empty());
    let first = services[0]["renewed"]
        .as_u64()
        .expect("renewed, in seconds");
    let later = until(Duration::from_secs(5), "a later renewal", || async {
        let renewed = redis.cli(&["HGET", &format!("{prefix}service:2"), "renewed"]);
        renewed.parse::<u64>().ok().filter(|at| *at > first)
    })
    .await;
    assert!(later > first);
}

#[actix_rt::test]
async fn deleting_a_registration_stops_its_process_gracefully_within_two_heartbeats() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-del");
    let mut app = service(&redis, &prefix);
    let id = id_of(&app, &listed(&app, 1).await).await;
    let deleted = Instant::now();
    redis.cli(&["DEL", &format!("{prefix}service:{id}")]);
    let status = app.wait_for_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    // Noticed at the next heartbeat (200 ms), then a graceful stop with nothing in flight.
    assert!(
        deleted.elapsed() < Duration::from_secs(2),
        "{:?}",
        deleted.elapsed()
    );
    assert!(!app.logged("registration was deleted: stopping").is_empty());
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}services")]), "0");
}

#[actix_rt::test]
async fn a_service_is_stopped_through_another_with_the_admin_token() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-stop");
    let first = service(&redis, &prefix);
    let mut second = service(&redis, &prefix);
    let services = listed(&first, 2).await;
    let id = id_of(&second, &services).await;
    let path = format!("/services/{id}/stop");

    let refused = first.send(Method::POST, &path, &[], Vec::new()).await;
    assert_eq!(refused.status, 401);
    assert!(second.is_running());
    let bad = first
        .send(
            Method::POST,
            "/services/x1/stop",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            Vec::new(),
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()),
        (
            400,
            json!({"msg": "error", "error": "a service id is a number"})
        )
    );
    let unknown = first
        .send(
            Method::POST,
            "/services/999999/stop",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            Vec::new(),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.json()),
        (404, json!({"msg": "error", "error": "no such service"}))
    );

    let stopped = first
        .send(
            Method::POST,
            &path,
            &[("authorization", &format!("Bearer {TOKEN}"))],
            Vec::new(),
        )
        .await;
    assert_eq!(
        (stopped.status, stopped.json()),
        (200, json!({"msg": "success", "stopping": id}))
    );
    assert!(second.wait_for_exit(Duration::from_secs(5)).success());
    assert_eq!(listed(&first, 1).await.len(), 1);
}

#[actix_rt::test]
async fn a_killed_process_lapses_from_the_list_within_three_heartbeats() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-kill");
    let survivor = service(&redis, &prefix);
    let mut doomed = service(&redis, &prefix);
    listed(&survivor, 2).await;
    doomed.kill();
    let killed = Instant::now();
    listed(&survivor, 1).await;
    // Three heartbeats of 200 ms, and the list polled every 20 ms.
    assert!(
        killed.elapsed() < Duration::from_millis(800),
        "{:?}",
        killed.elapsed()
    );
}

#[actix_rt::test]
async fn redis_out_of_reach_for_a_while_is_not_a_stop() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-outage");
    let mut app = service(&redis, &prefix);
    let id = id_of(&app, &listed(&app, 1).await).await;
    // Frozen for five heartbeats: the registration lapses meanwhile.
    redis.pause();
    actix_rt::time::sleep(Duration::from_secs(1)).await;
    redis.resume();
    let services = listed(&app, 1).await;
    assert_eq!(
        services[0]["id"],
        json!(id),
        "registered again under its id"
    );
    assert!(app.is_running());
}

/// Any process's `/status` shows the whole fleet's queues with their lengths, as the live
/// processes' registrations name them: those a gateway feeds (its queue and its routes'
/// queues) and those a filer takes from, on a process that has none of its own.
#[actix_rt::test]
async fn any_process_shows_every_live_process_s_queues() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("services-queues");
    let key = |name: &str| format!("{prefix}{name}");
    let site = TempDir::new("services-queues");
    site.write("files/app.css", "body {}\n");
    let gateway_port = free_ports(1).start().to_string();
    let _gateway = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[
            ("HEARTBEAT_MS", "200"),
            ("GATEWAY_PORT", &gateway_port),
            ("GATEWAY_ROUTES", "^/static/=files;^/pages/=pages"),
        ])
        .start_process();
    let _filer = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[
            ("HEARTBEAT_MS", "200"),
            ("FILER_QUEUE", "files"),
            ("FILER_ROOT", &site.string("files")),
        ])
        .start_process();
    // Nobody takes pages here: what is queued stays.
    redis.cli(&["RPUSH", &key("pages"), "a", "b", "c"]);
    let bystander = service(&redis, &prefix);
    let queues = until(Duration::from_secs(5), "the fleet's queues", || async {
        let status = bystander.get("/status").await.json();
        let queues = status["queues"].as_object()?.clone();
        (queues.len() == 3).then_some(queues)
    })
    .await;
    let expected: serde_json::Map<String, Json> = [("files", 0), ("gateway:req", 0), ("pages", 3)]
        .into_iter()
        .map(|(name, length)| (key(name), json!(length)))
        .collect();
    assert_eq!(queues, expected);
}
