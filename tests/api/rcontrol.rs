//! rcontrol: the number in `<prefix>replicas` is all an operator sets; one controlling instance
//! at a time spawns or destroys app servers until the registry matches it.

use std::time::Duration;

use crate::helpers::{free_ports, unique_prefix, until, TestApp, TestRedis};

fn controller(redis: &TestRedis, prefix: &str) -> TestApp {
    let ports = free_ports(5);
    TestApp::builder()
        .redis(&redis.url(), prefix)
        .envs(&[
            ("RCONTROL", "true"),
            ("HEARTBEAT_MS", "200"),
            ("SPAWN_PORTS", &format!("{}-{}", ports.start(), ports.end())),
        ])
        .start_process()
}

async fn until_listed(app: &TestApp, count: usize) {
    until(
        Duration::from_secs(10),
        &format!("{count} servers listed"),
        || async {
            let listed = app.get("/listservers").await.json();
            (listed.as_array().map(Vec::len) == Some(count)).then_some(())
        },
    )
    .await;
}

#[actix_rt::test]
async fn the_declared_number_of_servers_is_reached_by_one_controller_of_two() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("rcontrol");
    let first = controller(&redis, &prefix);
    let _second = controller(&redis, &prefix);
    let replicas = format!("{prefix}replicas");

    redis.cli(&["SET", &replicas, "3"]);
    until_listed(&first, 3).await;
    // Only the lease holder acts: three, not six, a few heartbeats on.
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        first
            .get("/listservers")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    redis.cli(&["SET", &replicas, "1"]);
    until_listed(&first, 1).await;
}
