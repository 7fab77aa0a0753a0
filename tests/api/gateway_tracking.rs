//! The notes' message lifecycle through a real gateway process (`MESSAGE_TRACKING=true`): an id
//! and a history per request, the client's `X-Request-Id` echoed (or one made), timeouts found
//! by the monitor, counted and shown, and `/messages` behind the monitoring token.

use awc::http::Method;
use serde_json::{json, Value as Json};

use crate::dashboard::chromium;
use crate::helpers::{gateway_process, unique_prefix, until, Reply, TestApp, TestRedis};

const TOKEN: &str = "tracking-monitor-t0ken";

/// A gateway with its own workers, tracking on; `/slow/...` goes to a queue nobody takes.
fn tracked(redis: &TestRedis, prefix: &str, tracking: &str) -> TestApp {
    gateway_process(
        redis,
        prefix,
        &[
            ("WORKER_QUEUES", "gateway:req"),
            ("GATEWAY_ROUTES", "^/slow/=nobody"),
            ("GATEWAY_TIMEOUT_MS", "300"),
            ("MESSAGE_TRACKING", tracking),
            ("MONITOR_TOKEN", TOKEN),
        ],
    )
}

/// `GET /` through `app`'s gateway with `X-Request-Id: xid`, answered 200, and its history
/// (read with the monitoring `token`) once the answer is recorded.
pub async fn answered_with_xid(app: &TestApp, token: &str, xid: &str) -> (Reply, Json) {
    let given = app
        .gateway()
        .send(Method::GET, "/", &[("x-request-id", xid)], Vec::new())
        .await;
    assert_eq!(given.status, 200);
    let path = format!("/messages?xid={xid}");
    let recorded = until(
        std::time::Duration::from_secs(5),
        "the answer recorded",
        || async {
            let (status, found) = history(app, token, &path).await;
            (status == 200 && found["state"] == "answered").then_some(found)
        },
    )
    .await;
    (given, recorded)
}

/// `path` read with the monitoring `token`: its status and JSON body.
pub async fn history(app: &TestApp, token: &str, path: &str) -> (u16, Json) {
    let auth = format!("Bearer {token}");
    let reply = app
        .send(Method::GET, path, &[("authorization", &auth)], Vec::new())
        .await;
    (reply.status, reply.json())
}

#[actix_rt::test]
async fn each_request_gets_an_id_a_history_and_its_request_id_echoed() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("tracking");
    let app = tracked(&redis, &prefix, "true");
    let gateway = app.gateway();

    let (given, by_xid) = answered_with_xid(&app, TOKEN, "order-17").await;
    assert_eq!(given.header("x-request-id"), "order-17");
    assert_eq!(given.header("x-message-id"), "1");
    assert_eq!(by_xid["id"], 1);
    assert_eq!(by_xid["xid"], "order-17");
    assert_eq!(by_xid["status"], 200);
    assert_eq!(by_xid["queue"], format!("{prefix}gateway:req"));
    assert!(by_xid["service"].as_str().is_some_and(|w| w.contains("-w")));
    assert_eq!(
        history(&app, TOKEN, "/messages/1").await,
        (200, by_xid.clone())
    );
    // Without the token, nothing.
    assert_eq!(app.get("/messages/1").await.status, 401);

    // No X-Request-Id: the message's id is made its xid.
    let made = gateway.get("/").await;
    assert_eq!(
        (made.header("x-request-id"), made.header("x-message-id")),
        ("2", "2")
    );

    // One the history cannot keep is refused, and nothing is queued or counted.
    let long = "x".repeat(129);
    for bad in [long.as_str(), "two words"] {
        let refused = gateway
            .send(Method::GET, "/", &[("x-request-id", bad)], Vec::new())
            .await;
        assert_eq!(refused.status, 400, "{bad}");
        assert_eq!(
            refused.json(),
            json!({"msg": "error", "error": "X-Request-Id must be 1 to 128 visible ASCII characters"})
        );
    }
    assert_eq!(redis.cli(&["GET", &format!("{prefix}message:id")]), "2");

    // Nobody answers: 504, the id still echoed, and the monitor finds it past its deadline.
    let slow = gateway
        .send(
            Method::GET,
            "/slow/x",
            &[("x-request-id", "late-1")],
            Vec::new(),
        )
        .await;
    assert_eq!(slow.status, 504);
    assert_eq!(
        (slow.header("x-request-id"), slow.header("x-message-id")),
        ("late-1", "3")
    );
    let timed_out = until(std::time::Duration::from_secs(5), "the monitor", || async {
        let (_, found) = history(&app, TOKEN, "/messages/3").await;
        (found["state"] == "timeout").then_some(found)
    })
    .await;
    assert_eq!(timed_out["xid"], "late-1");
    assert_eq!(
        redis.cli(&["HGET", &format!("{prefix}metrics:gateway"), "timeout"]),
        "1"
    );
    // The gateway's metrics hash shows once the process has flushed its measures (each second).
    let status = until(std::time::Duration::from_secs(5), "the status", || async {
        let (_, status) = history(&app, TOKEN, "/status").await;
        (status["metrics"]["gateway"]["timeout"] == 1).then_some(status)
    })
    .await;
    assert_eq!(status["timeouts"], json!([3]));
    let auth = format!("Bearer {TOKEN}");
    let scraped = app
        .send(
            Method::GET,
            "/metrics",
            &[("authorization", &auth)],
            Vec::new(),
        )
        .await;
    assert!(
        scraped.text().contains("\nswitchyard_gateway_timeouts 1\n"),
        "{}",
        scraped.text()
    );
    let dom = chromium(
        &format!("http://ops:{TOKEN}@{}/dashboard", app.host_port()),
        None,
    );
    assert!(dom.contains("message 3 (/messages/3)"), "{dom}");

    for (path, expected) in [
        ("/messages/x1", 400),
        ("/messages", 400),
        ("/messages?xid=a&xid=b", 400),
        ("/messages/999", 404),
        ("/messages?xid=nobody-sent-this", 404),
    ] {
        assert_eq!(history(&app, TOKEN, path).await.0, expected, "{path}");
    }
}

#[actix_rt::test]
async fn with_tracking_off_the_request_id_is_echoed_and_nothing_is_written() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("tracking-off");
    let app = tracked(&redis, &prefix, "false");
    let reply = app
        .gateway()
        .send(
            Method::GET,
            "/",
            &[("x-request-id", "any thing")],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-request-id"), "any thing");
    assert_eq!(reply.header("x-message-id"), "");
    assert_eq!(redis.cli(&["KEYS", &format!("{prefix}message*")]), "");
}
