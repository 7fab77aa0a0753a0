//! Metrics: the hashes in Redis after a known number of gateway requests, and `/metrics`
//! checked by Prometheus's own `promtool`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{free_ports, unique_prefix, until, TestApp, TestRedis};

#[actix_rt::test]
async fn the_metrics_hashes_count_every_gateway_request_and_its_handling() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("metrics-hash");
    let port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("GATEWAY_PORT", &port), ("WORKER_QUEUES", "gateway:req")])
        .start_process();
    let gateway = app.gateway();
    for _ in 0..25 {
        assert_eq!(gateway.get("/").await.status, 200);
    }
    for operation in ["gateway", "worker"] {
        let hash = format!("{prefix}metrics:{operation}");
        let fields = until(
            Duration::from_secs(5),
            &format!("{hash} counts 25"),
            || async {
                let count = redis.cli(&["HGET", &hash, "count"]);
                (count == "25").then(|| redis.cli(&["HGETALL", &hash]))
            },
        )
        .await;
        let field = |name: &str| -> f64 {
            let mut lines = fields.lines();
            while let Some(line) = lines.next() {
                if line == name {
                    return lines.next().unwrap().parse().unwrap();
                }
            }
            panic!("{hash} has no {name}: {fields}")
        };
        let (sum, max) = (field("sum"), field("max"));
        assert!(sum > 0.0 && max > 0.0 && max <= sum, "{fields}");
        // A tenth of GATEWAY_TIMEOUT_MS (5 s) per bucket.
        assert_eq!(field("bucket_ms"), 500.0);
        let buckets: f64 = (0..10).map(|i| field(&format!("b{i}"))).sum::<f64>() + field("over");
        assert_eq!(buckets, 25.0, "{fields}");
    }
}

#[actix_rt::test]
async fn slash_metrics_passes_promtool_and_counts_requests_by_route() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("metrics-text");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[("LPUSH_IN", "in"), ("LPUSH_OUT", "out")])
        .start_process();
    redis.cli(&["LPUSH", &format!("{prefix}out"), "a", "b"]);
    assert_eq!(app.put_val("/kvs/k", "v").await.status, 201);
    assert_eq!(app.get("/kvs/k").await.status, 200);
    assert_eq!(app.get("/no/such/route").await.status, 404);
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type.starts_with("text/plain"),
        "{}",
        reply.content_type
    );
    let text = reply.text();

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test installs Debian's prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let expected = [
        r#"switchyard_http_requests_total{listener="main",route="other",status="404"} 1"#,
        "switchyard_kvs_duration_seconds_count 2",
        "switchyard_kvs_keys 1",
        "switchyard_kvs_bytes 2",
        &format!(r#"switchyard_queue_length{{list="{prefix}out"}} 2"#),
        "switchyard_registered_servers 0",
    ];
    for line in expected {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    let kvs_route = text
        .lines()
        .filter(|l| l.starts_with("switchyard_http_requests_total") && l.contains("kvs"))
        .count();
    assert_eq!(
        kvs_route, 2,
        "PUT 201 and GET 200 under the route's pattern:\n{text}"
    );
}
