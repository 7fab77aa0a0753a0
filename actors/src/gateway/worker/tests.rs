use super::*;
use crate::test_redis::{cmd, list, push, registered, until, within, TestRedis};
use futures_util::future::{ready, LocalBoxFuture};
use serde_json::json;

/// Answers each request on its reply list, its path echoed in a header.
struct Echo;

impl Job for Echo {
    fn handle(&self, _: Rc<str>, r: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let expire_ms = Some(crate::gateway::job::REPLY_LIST_LIFETIME_MS);
        let message = echoed(&r.id, &r.path).into_bytes();
        Box::pin(ready(Outcome {
            destination: r.reply_to,
            message,
            expire_ms,
            answered: Some(200),
        }))
    }
}

fn echoed(id: &str, path: &str) -> String {
    json!({"id": id, "status": 200, "headers": [["x-path", path]]}).to_string()
}

#[actix::test]
async fn requests_are_answered_on_their_reply_list_and_the_busy_list_ends_empty() {
    let (server, (_keep, on)) = (TestRedis::start(), registered());
    let redis = server.redis();
    let (queue, replies) = (redis.keys().named("q"), redis.keys().gateway_replies("g"));
    let request = |id: &str, deadline_ms: u64| {
        let mut request = json!({"id": id, "method": "GET", "path": format!("/{id}")});
        (request["reply_to"], request["deadline_ms"]) = (json!(replies), json!(deadline_ms));
        request.to_string()
    };
    let r = [("1", u64::MAX), ("2", 1), ("3", u64::MAX)].map(|(id, by)| request(id, by));
    // A request past its deadline and a message that is none are dropped unanswered.
    push(&redis, &queue, &[&r[0], &r[1], "\"junk\"", &r[2]]).await;
    let job = Rc::new(Echo);
    let worker = Worker::new(server.redis(), queue.clone(), "w", job, 8, on).start_taking();
    let two = || async { (list(&redis, &replies).await.len() == 2).then_some(()) };
    until("two answers", two).await;
    let stopped = worker.send(crate::run_loop::StopTaking);
    within("StopTaking's answer", stopped).await.unwrap();
    let mut answers = list(&redis, &replies).await;
    answers.sort();
    assert_eq!(answers, [echoed("1", "/1"), echoed("3", "/3")]);
    assert!(list(&redis, &busy_list(&queue, "w")).await.is_empty());
    assert!(list(&redis, &queue).await.is_empty());
    assert!(cmd::<i64>(&redis, redis_async::resp_array!["PTTL", replies.as_str()]).await > 0);
}
