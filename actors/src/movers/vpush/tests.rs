//! Vpush between two real redis-servers: order, the pending slot emptied, a delivered mark
//! honoured, and the stop.

use std::time::Duration;

use redis_async::resp_array;

use super::{Vpush, VpushRoute};
use crate::redis::vpush_mark;
use crate::run_loop::{StopTaking, Taker, TakerActor};
use crate::test_redis::{cmd, list, list_becomes, metrics, push, within, TestRedis};

struct Pair {
    source: TestRedis,
    remote: TestRedis,
    route: VpushRoute,
}

impl Pair {
    fn new() -> Self {
        let (source, remote) = (TestRedis::start(), TestRedis::start());
        let route = VpushRoute {
            input: format!("{}in", source.prefix),
            output: format!("{}out", remote.prefix),
            remote_prefix: remote.prefix.clone(),
        };
        Self {
            source,
            remote,
            route,
        }
    }

    fn start(&self, metrics: crate::ops::metrics::Metrics) -> actix::Addr<TakerActor<Vpush>> {
        let (source, remote) = (self.source.redis(), self.remote.redis());
        let heartbeat = Duration::from_millis(300);
        Vpush::new(
            source,
            remote,
            self.route.clone(),
            "r1".into(),
            heartbeat,
            metrics,
        )
        .start_taking()
    }

    /// Waits until the output holds `expected` (left to right).
    async fn output_becomes(&self, expected: &[&str]) {
        list_becomes(&self.remote.redis(), &self.route.output, expected).await;
    }
}

#[actix::test]
async fn messages_arrive_on_the_remote_oldest_first_and_the_stop_answers() {
    let pair = Pair::new();
    let (source, metrics) = (pair.source.redis(), metrics());
    push(&source, &pair.route.input, &["m1", "m2", "m3"]).await;
    let vpush = pair.start(metrics.clone());
    pair.output_becomes(&["m3", "m2", "m1"]).await;
    // Those pushed while it waits on the empty input follow, in their order.
    push(&source, &pair.route.input, &["m4", "m5"]).await;
    pair.output_becomes(&["m5", "m4", "m3", "m2", "m1"]).await;
    within("StopTaking's answer", vpush.send(StopTaking))
        .await
        .unwrap();
    assert!(list(&source, &pair.route.input).await.is_empty());
    let pending = format!("{}:vpush:pending", pair.route.input);
    assert!(list(&source, &pending).await.is_empty());
    let text = metrics.render();
    assert!(
        text.contains(r#"switchyard_mover_messages_total{mover="vpush"} 5"#),
        "{text}"
    );
}

#[actix::test]
async fn a_message_the_remote_marked_delivered_is_not_pushed_again() {
    let pair = Pair::new();
    let source = pair.source.redis();
    // As if a replica had died after delivering message 1 and before removing it.
    let id = format!("{}:vpush:source", pair.route.input);
    let _: String = cmd(&source, resp_array!["SET", id, "src"]).await;
    let mark = vpush_mark(
        &pair.remote.prefix,
        &pair.route.output,
        |_| false,
        "src",
        "1",
    );
    let _: String = cmd(&pair.remote.redis(), resp_array!["SET", mark, "1"]).await;
    push(&source, &pair.route.input, &["delivered before", "next"]).await;
    let vpush = pair.start(metrics());
    pair.output_becomes(&["next"]).await;
    let marked = vpush_mark(
        &pair.remote.prefix,
        &pair.route.output,
        |_| false,
        "src",
        "2",
    );
    let exists = resp_array!["EXISTS", marked];
    assert_eq!(cmd::<i64>(&pair.remote.redis(), exists).await, 1);
    within("StopTaking's answer", vpush.send(StopTaking))
        .await
        .unwrap();
}
