//! A Redis Cluster's failover under load, through the roles: while a gateway with workers
//! serves 2,000 requests and a mover moves 10,000 messages, the master serving their slot is
//! killed and its replica promoted.

use std::time::{Duration, Instant};

use super::load::{
    every_confirmed_message_once, failover_window, paced_requests, produce_confirmed,
};
use crate::helpers::{free_ports, unique_prefix, until, ClusterSet, TestApp};

/// The queue and the mover's lists share one tag, so one master serves them all: the one
/// killed. The gateway's reply list is wherever its name hashes.
#[actix_rt::test]
async fn a_failover_under_load_answers_every_request_and_keeps_every_message() {
    const REQUESTS: usize = 2000;
    const MESSAGES: usize = 10_000;
    let cluster = ClusterSet::start("load", Duration::from_secs(1));
    let prefix = unique_prefix("cluster-load");
    let key = |name: &str| format!("{prefix}{name}");
    let gateway_port = free_ports(1).start().to_string();
    let fleet = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &cluster.url()),
            ("REDIS_PREFIX", &prefix),
            ("GATEWAY_PORT", &gateway_port),
            ("GATEWAY_QUEUE", "{load}req"),
            ("WORKER_QUEUES", "{load}req"),
            ("LPUSH_IN", "{load}in"),
            ("LPUSH_OUT", "{load}out"),
        ])
        .start_process();
    let gateway = fleet.gateway();
    assert_eq!(gateway.get("/").await.status, 200);
    let doomed = cluster.master_of(&key("{load}in")).port;
    assert_eq!(
        cluster.master_of(&key("{load}req")).port,
        doomed,
        "one master for both"
    );

    // Over about 4 s and the failover: batches of 50 messages, each followed by a WAIT for a
    // replica, sent through the nodes in turn (`redis-cli -c` follows the slot); the master
    // is killed after 1 s.
    let started = Instant::now();
    let ports: Vec<u16> = cluster.nodes.iter().map(|node| node.port).collect();
    let input = key("{load}in");
    let producer = std::thread::spawn(move || {
        let through = |batch: u64| {
            let port = ports[batch as usize % ports.len()];
            Some(vec!["-c".into(), "-p".into(), port.to_string()])
        };
        produce_confirmed(&input, MESSAGES, &through)
    });
    let slot_key = key("{load}in");
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let mut cluster = cluster;
        let took = cluster.kill_master_of(&slot_key, Duration::from_secs(20));
        (cluster, took)
    });
    let answers = paced_requests(&gateway, REQUESTS, started).await;
    let confirmed = producer.join().unwrap();
    let (cluster, took_over) = killer.join().unwrap();
    let (failed, window) = failover_window(&answers);

    // Every confirmed message once: moved to the output, or still in the input.
    let master = cluster.master_of(&key("{load}in"));
    until(
        Duration::from_secs(20),
        "the mover empties its input",
        || async { (master.cli(&["LLEN", &key("{load}in")]) == "0").then_some(()) },
    )
    .await;
    let held: Vec<String> = master
        .cli(&["LRANGE", &key("{load}out"), "0", "-1"])
        .lines()
        .map(str::to_owned)
        .collect();
    let held = every_confirmed_message_once(&held, &confirmed);
    eprintln!(
        "cluster failover under load: a replica took over {took_over:?} after the kill; \
         {REQUESTS} requests, {failed} answered 503/504 over {window:?}; {} messages \
         confirmed by a replica, all kept once ({held} held)",
        confirmed.len(),
    );
}
