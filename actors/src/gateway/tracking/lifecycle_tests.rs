//! A tracked message's life against a real redis-server: queued by a gateway with tracking on,
//! answered by a worker (or by nobody), judged by the monitor, read back by the log.

use std::rc::Rc;
use std::time::Duration;

use actix::{Actor, Addr};
use futures_util::future::{ready, LocalBoxFuture};
use redis_async::resp_array;

use super::history::{FindMessage, MessageHistory, MessageLog, MessageRef, State};
use super::monitor::MessageMonitor;
use super::Tracking;
use crate::error::ActorError;
use crate::gateway::front::{Gateway, GatewaySettings, Submitted};
use crate::gateway::job::{Job, Outcome};
use crate::gateway::message::{GatewayRequest, GatewayResponse};
use crate::gateway::routing::{RouteRules, RouteTable};
use crate::gateway::testing::{self, submit};
use crate::gateway::worker::Worker;
use crate::run_loop::Taker;
use crate::test_redis::{cmd, list, metrics, registered, until, within, TestRedis};

/// Answers 201 at once.
struct Created;

impl Job for Created {
    fn handle(&self, _: Rc<str>, r: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let response = GatewayResponse {
            id: r.id,
            status: 201,
            headers: Vec::new(),
            body: Vec::new(),
        };
        Box::pin(ready(Outcome::answer(&r.reply_to, &response)))
    }
}

/// A gateway with tracking on: `/nobody/...` goes to a queue no worker takes, the rest to `q`.
fn gateway(server: &TestRedis) -> Addr<Gateway> {
    let keys = server.redis().keys().clone();
    let rules = RouteRules::parse("^/nobody/=nobody").unwrap();
    let settings = GatewaySettings {
        timeout: Duration::from_millis(400),
        queue_max: 10,
        metrics: metrics(),
        routes: RouteTable::new(&rules, &keys, keys.named("q")),
        tracking: Some(Tracking {
            kept: Duration::from_secs(60),
        }),
    };
    testing::gateway(server, settings, server.redis())
}

async fn find(log: &Addr<MessageLog>, by: MessageRef) -> Option<MessageHistory> {
    log.send(FindMessage(by)).await.unwrap().unwrap()
}

#[actix::test]
async fn a_tracked_message_is_answered_or_timed_out_and_its_history_reads_back() {
    let server = TestRedis::start();
    let redis = server.redis();
    let (_keep, on) = registered();
    let queue = redis.keys().named("q");
    let worker = Worker::new(server.redis(), queue, "w1", Rc::new(Created), 8, on);
    let _worker = worker.start_taking();
    let (gateway, log) = (gateway(&server), MessageLog::new(server.redis()).start());
    let _monitor = MessageMonitor::new(server.redis()).start();

    let Submitted { message_id, answer } =
        within("an answer", gateway.send(submit("/a", Some("client-7"))))
            .await
            .unwrap();
    assert_eq!((message_id, answer.unwrap().status), (Some(1), 201));
    let answered = until("the answer recorded", || async {
        find(&log, MessageRef::Xid("client-7".into()))
            .await
            .filter(|history| history.state == State::Answered)
    })
    .await;
    assert_eq!(answered.id, 1);
    assert_eq!(answered.status, Some(201));
    assert_eq!(answered.service.as_deref(), Some("w1"));
    assert_eq!(answered.gateway.as_deref(), Some("g-0"));
    assert_eq!(answered.queue, Some(redis.keys().named("q")));
    let (queued, deadline) = (answered.timestamp.unwrap(), answered.deadline.unwrap());
    assert_eq!(deadline - queued, 400);
    assert!((queued..=deadline).contains(&answered.done.unwrap()));
    let kept = cmd::<i64>(&redis, resp_array!["PTTL", redis.keys().tracked_message(1)]).await;
    assert!(kept > 50_000, "{kept}");

    // No X-Request-Id: the id is the xid. Nobody takes the queue: timed out by the monitor.
    let Submitted { message_id, answer } =
        within("an answer", gateway.send(submit("/nobody/x", None)))
            .await
            .unwrap();
    assert_eq!(message_id, Some(2));
    assert!(
        matches!(answer, Err(ActorError::NoWorkerAnswered)),
        "{answer:?}"
    );
    let timed_out = until("the monitor's verdict", || async {
        find(&log, MessageRef::Xid("2".into()))
            .await
            .filter(|history| history.state == State::Timeout)
    })
    .await;
    assert_eq!((timed_out.id, timed_out.xid.as_str()), (2, "2"));
    let timeouts = resp_array!["HGET", redis.keys().metrics("gateway"), "timeout"];
    assert_eq!(cmd::<String>(&redis, timeouts).await, "1");
    assert_eq!(list(&redis, &redis.keys().tracked_timeouts()).await, ["2"]);
    assert_eq!(
        find(&log, MessageRef::Id(1)).await.unwrap().state,
        State::Answered
    );
    // The monitor never judges a message twice, nor one answered in time.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let timeouts = resp_array!["HGET", redis.keys().metrics("gateway"), "timeout"];
    assert_eq!(cmd::<String>(&redis, timeouts).await, "1");
    assert_eq!(find(&log, MessageRef::Id(3)).await, None);
    assert_eq!(
        find(&log, MessageRef::Xid("nobody-sent-this".into())).await,
        None
    );
}
