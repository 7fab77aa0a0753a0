//! Message tracking on a Redis Cluster: its keys share one slot (`{<prefix>message}:...`),
//! apart from the queues and the busy lists, so the gateway's push and the workers' records
//! go in steps. Ids, histories, timeouts and the requests a full queue refused are as on one
//! Redis.

use std::time::Duration;

use crate::gateway_tracking::{answered_with_xid, history};
use crate::helpers::{free_ports, unique_prefix, until, ClusterSet, TestApp};

const TOKEN: &str = "cluster-tracking-t0ken";

#[actix_rt::test]
async fn tracking_on_a_cluster_keeps_histories_counts_timeouts_and_forgets_refused_requests() {
    let cluster = ClusterSet::start("tracking", Duration::from_secs(5));
    let prefix = unique_prefix("cluster-tracking");
    let gateway_port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &cluster.url()),
            ("REDIS_PREFIX", &prefix),
            ("GATEWAY_PORT", &gateway_port),
            ("WORKER_QUEUES", "gateway:req"),
            ("GATEWAY_ROUTES", "^/slow/=nobody"),
            ("GATEWAY_TIMEOUT_MS", "300"),
            ("GATEWAY_QUEUE_MAX", "1"),
            ("MESSAGE_TRACKING", "true"),
            ("MONITOR_TOKEN", TOKEN),
        ])
        .start_process();
    let gateway = app.gateway();
    let (given, answered) = answered_with_xid(&app, TOKEN, "order-17").await;
    assert_eq!(given.header("x-message-id"), "1");
    assert_eq!(answered["status"], 200);

    // Two at once to a queue nobody takes, which holds one: one waits and times out (504),
    // the other is refused (503) and its history is forgotten, never counted.
    let (a, b) = futures_util::join!(gateway.get("/slow/a"), gateway.get("/slow/b"));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [503, 504]);
    let (late, refused) = if a.status == 504 { (a, b) } else { (b, a) };
    let late_id = late.header("x-message-id").to_owned();
    until(Duration::from_secs(5), "the monitor", || async {
        let (_, found) = history(&app, TOKEN, &format!("/messages/{late_id}")).await;
        (found["state"] == "timeout").then_some(())
    })
    .await;
    let tracking = format!("{{{prefix}message}}:");
    assert_eq!(cluster.cli(&["GET", &format!("{tracking}id")]), "3");
    let refused_id = if late_id == "2" { "3" } else { "2" };
    assert_eq!(
        cluster.cli(&["EXISTS", &format!("{tracking}{refused_id}")]),
        "0",
        "the refused request's history is forgotten ({})",
        refused.status
    );
    assert_eq!(
        history(&app, TOKEN, &format!("/messages/{refused_id}"))
            .await
            .0,
        404
    );
    until(Duration::from_secs(5), "one timeout counted", || async {
        let counted = cluster.cli(&["HGET", &format!("{prefix}metrics:gateway"), "timeout"]);
        (counted == "1").then_some(())
    })
    .await;
    // Every look after: still one.
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cluster.cli(&["HGET", &format!("{prefix}metrics:gateway"), "timeout"]),
        "1"
    );
}
