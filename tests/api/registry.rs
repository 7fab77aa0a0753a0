//! `/spawn`, `/destroy`, `/listservers` against a real Redis, with real app servers.

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::Duration;

use crate::helpers::{free_ports, spawn, unique_prefix, until, TestApp, TestRedis};
use serde_json::json;
use switchyard::config::Config;

fn with_ports(len: u16, max: usize) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| {
        config.spawn_ports = free_ports(len);
        config.spawn_max = max;
    }
}

async fn listed(app: &TestApp) -> HashSet<String> {
    let reply = app.get("/listservers").await;
    assert_eq!(reply.status, 200);
    serde_json::from_value(reply.json()).unwrap()
}

#[actix_rt::test]
async fn spawned_servers_are_listed_and_serve_the_app() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("spawn"))
        .config(with_ports(10, 16))
        .start();
    let mut urls = HashSet::new();
    for _ in 0..3 {
        urls.insert(spawn(&app).await);
    }
    assert_eq!(urls.len(), 3);
    assert_eq!(listed(&app).await, urls);

    for url in &urls {
        let server = TestApp::connect(url);
        let reply = server.get("/").await;
        assert_eq!(reply.text(), "hello world");
        assert_eq!(format!("http://{}", reply.served_by), *url);
        // The app routes only: the key-value store and the registry stay on the instance.
        assert_eq!(server.get("/listservers").await.status, 404);
    }
}

#[actix_rt::test]
async fn destroy_deregisters_and_stops_a_spawned_server() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("destroy"))
        .config(with_ports(10, 16))
        .start();
    let first = spawn(&app).await;
    let second = spawn(&app).await;

    let reply = app.request(awc::http::Method::POST, "/destroy", None).await;
    assert_eq!(reply.status, 200);
    let destroyed = reply.json()["url"].as_str().unwrap().to_owned();
    assert!(destroyed == first || destroyed == second);
    let survivor = if destroyed == first { &second } else { &first };
    assert_eq!(listed(&app).await, HashSet::from([survivor.clone()]));

    let port = destroyed.rsplit(':').next().unwrap();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "{destroyed} still listens"
    );
}

#[actix_rt::test]
async fn destroy_refuses_to_empty_the_registry_or_when_nothing_was_spawned() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("refuse"))
        .config(with_ports(10, 16))
        .start();
    let nothing = app.request(awc::http::Method::POST, "/destroy", None).await;
    assert_eq!(nothing.status, 409);
    assert_eq!(
        nothing.json(),
        json!({"msg": "error", "error": "this instance has spawned no server"})
    );

    let only = spawn(&app).await;
    let last = app.request(awc::http::Method::POST, "/destroy", None).await;
    assert_eq!(last.status, 409);
    assert_eq!(
        last.json()["error"],
        "the last registered server is not destroyed"
    );
    assert_eq!(listed(&app).await, HashSet::from([only.clone()]));
    assert_eq!(TestApp::connect(&only).get("/").await.status, 200);
}

#[actix_rt::test]
async fn spawn_limits() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("max"))
        .config(with_ports(10, 2))
        .start();
    spawn(&app).await;
    spawn(&app).await;
    let over = app.request(awc::http::Method::POST, "/spawn", None).await;
    assert_eq!(over.status, 429);
    assert_eq!(
        over.json()["error"],
        "this instance already runs 2 spawned servers (SPAWN_MAX)"
    );
    assert_eq!(listed(&app).await.len(), 2);

    // A range whose every port is taken by someone else.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let full = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("full"))
        .config(move |config| {
            config.spawn_ports = port..=port;
        })
        .start();
    let reply = full.request(awc::http::Method::POST, "/spawn", None).await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json()["error"],
        format!("no free port in SPAWN_PORTS {port}-{port}")
    );
}

#[actix_rt::test]
async fn servers_of_a_killed_instance_drop_out_within_three_heartbeats() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("lapse");
    let mut doomed = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("HEARTBEAT_MS", "200")])
        .start_process();
    let observer = TestApp::builder().redis(&redis.url(), &prefix).start();
    let url = spawn(&doomed).await;
    // Registered, and still renewed after its first registration would have lapsed.
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(listed(&observer).await, HashSet::from([url.clone()]));

    doomed.kill();
    // Three heartbeats are 600 ms; the rest is slack for a loaded machine.
    let what = format!("{url} leaves the list");
    until(Duration::from_millis(1500), &what, || async {
        (!listed(&observer).await.contains(&url)).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn an_instance_with_register_url_registers_itself_and_leaves_on_sigterm() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("self");
    let own_url = "http://127.0.0.1:1";
    let mut instance = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("REGISTER_URL", own_url)])
        .start_process();
    let observer = TestApp::builder().redis(&redis.url(), &prefix).start();
    let spawned = spawn(&instance).await;
    assert_eq!(
        listed(&observer).await,
        HashSet::from([own_url.to_owned(), spawned.clone()])
    );

    instance.terminate();
    // At once, not after three heartbeats (the default heartbeat is a second).
    assert_eq!(listed(&observer).await, HashSet::new());
    let port = spawned.rsplit(':').next().unwrap();
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err());
}

#[actix_rt::test]
async fn two_instances_registering_the_same_url_never_remove_each_others() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("same-url");
    // Two hosts (loopback addresses) spawning on the same port and advertising the same name,
    // as two containers advertising loopback did.
    let port = free_ports(1).start().to_string();
    let same = [
        ("SPAWN_PORTS", port.as_str()),
        ("ADVERTISE_HOST", "127.0.0.9"),
    ];
    let mut first = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[&same[..], &[("IP", "127.0.0.2")]].concat())
        .start_process();
    let second = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[&same[..], &[("IP", "127.0.0.3")]].concat())
        .start_process();
    let url = spawn(&first).await;
    assert_eq!(spawn(&second).await, url);
    assert_eq!(listed(&second).await, HashSet::from([url.clone()]));
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}servers")]), "2");

    first.terminate();
    assert_eq!(listed(&second).await, HashSet::from([url]));
    assert_eq!(redis.cli(&["ZCARD", &format!("{prefix}servers")]), "1");
}
