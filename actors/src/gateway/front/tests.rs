use super::*;
use crate::redis::RedisConfig;

fn gateway_without_redis() -> Addr<Gateway> {
    // Port 1: nothing listens, every push fails at once.
    let config = RedisConfig::from_url("redis://127.0.0.1:1", "p:").unwrap();
    let settings = GatewaySettings {
        timeout: Duration::from_secs(5),
        queue_max: 10,
        metrics: Metrics::new(|_| Duration::from_secs(1)),
        routes: RouteTable::only("p:gateway:req".into()),
        tracking: None,
    };
    Gateway::new(
        Redis::new(config),
        "g",
        0,
        "p:gateway:reply:g".into(),
        settings,
    )
    .start()
}

#[actix::test]
async fn a_response_nobody_waits_for_is_dropped_and_counted() {
    let gateway = gateway_without_redis();
    let response = GatewayResponse {
        id: "g-0-7".into(),
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    };
    gateway
        .send(Deliver(vec![("g-0-7".into(), Ok(response))]))
        .await
        .unwrap();
    let stats = gateway.send(Stats).await.unwrap();
    assert_eq!(
        stats,
        GatewayStats {
            waiting: 0,
            dropped_responses: 1
        }
    );
}

#[actix::test]
async fn a_request_that_cannot_be_queued_fails_at_once_and_leaves_nothing_waiting() {
    let gateway = gateway_without_redis();
    let submit = Submit {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        xid: None,
    };
    let answer = gateway.send(submit).await.unwrap().answer;
    assert!(
        matches!(answer, Err(ActorError::RedisUnavailable(_))),
        "{answer:?}"
    );
    // Its entry goes with the next sweep (once a second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(gateway.send(Stats).await.unwrap().waiting, 0);
}
