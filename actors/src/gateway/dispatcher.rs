//! [`Dispatcher`]: reads the process's reply list and hands each response to the
//! [`Gateway`](super::front::Gateway) of the thread that sent its request, which gives it to
//! the request waiting for its id.
//!
//! One per process, on a Redis connection of its own: a blocking pop would hold up every
//! command queued behind it on a shared one. Each pop takes up to [`MOST_PER_POP`] responses.

use std::time::Duration;

use actix::prelude::*;
use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;
use tokio::time::Instant;

use super::front::{Deliver, Delivery, RepliesUnreachable};
use super::message::{id_of, GatewayResponse};
use super::threads::GatewayThreads;
use crate::error::{ActorError, Cause};
use crate::redis::{Redis, COMMAND_TIMEOUT};

/// How long one pop blocks in Redis: short, so a frozen Redis is noticed within about a
/// second (this plus the command timeout).
const BLOCK: Duration = Duration::from_millis(250);

const MOST_PER_POP: usize = 256;

/// After a failed pop, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(100);

pub struct Dispatcher {
    /// Its own: no other command may wait behind its blocking pops.
    redis: Redis,
    reply_to: String,
    gateways: GatewayThreads,
}

impl Dispatcher {
    pub fn new(redis: Redis, reply_to: String, gateways: GatewayThreads) -> Self {
        Self {
            redis,
            reply_to,
            gateways,
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let pops = pop_forever(
            self.redis.clone(),
            self.reply_to.clone(),
            self.gateways.clone(),
        );
        ctx.spawn(fut::wrap_future(pops));
    }
}

async fn pop_forever(redis: Redis, reply_to: String, gateways: GatewayThreads) {
    let block = format!("{:.3}", BLOCK.as_secs_f64());
    let most = MOST_PER_POP.to_string();
    loop {
        let pop = resp_array![
            "BLMPOP",
            block.as_str(),
            "1",
            reply_to.as_str(),
            "RIGHT",
            "COUNT",
            most.as_str()
        ];
        let deadline = Instant::now() + BLOCK + COMMAND_TIMEOUT;
        match redis.command_by::<RespValue>(deadline, pop).await {
            Ok(RespValue::Nil) => {}
            Ok(popped) => match responses(popped) {
                Ok(responses) => deliver(&gateways, responses),
                Err(err) => log::error!("the reply list answered oddly: {err}"),
            },
            Err(err) => {
                for gateway in gateways.all() {
                    gateway.do_send(RepliesUnreachable(err.clone()));
                }
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

/// Each response to its thread's gateway, those for one thread in one message.
fn deliver(gateways: &GatewayThreads, responses: Vec<Delivery>) {
    let mut by_thread: Vec<(Addr<_>, Vec<Delivery>)> = Vec::new();
    for (id, response) in responses {
        let Some(gateway) = gateways.of_request(&id) else {
            log::debug!("response for {id:?} dropped: no such request was sent here");
            continue;
        };
        match by_thread.iter_mut().find(|(addr, _)| *addr == gateway) {
            Some((_, batch)) => batch.push((id, response)),
            None => by_thread.push((gateway, vec![(id, response)])),
        }
    }
    for (gateway, batch) in by_thread {
        gateway.do_send(Deliver(batch));
    }
}

/// `[key, [response, ...]]` as each response's id and what its client gets. A response that
/// does not parse goes to its client as a malformed answer when its id can be read, and is
/// dropped otherwise.
fn responses(popped: RespValue) -> Result<Vec<Delivery>, redis_async::error::Error> {
    let (_, raws) = <(String, Vec<Vec<u8>>)>::from_resp(popped)?;
    Ok(raws
        .into_iter()
        .filter_map(
            |raw| match serde_json::from_slice::<GatewayResponse>(&raw) {
                Ok(response) => Some((response.id.clone(), Ok(response))),
                Err(err) => {
                    let Some(id) = id_of(&raw) else {
                        log::warn!("a response without an id was dropped: {err}");
                        return None;
                    };
                    let cause = Cause::new(err).context(format_args!("response {id:?}"));
                    Some((id, Err(ActorError::WorkerAnswerMalformed(cause))))
                }
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::front::{Gateway, GatewaySettings, Submit};
    use crate::gateway::message::GatewayRequest;
    use crate::gateway::routing::RouteTable;
    use crate::gateway::testing;
    use crate::redis::RedisConfig;
    use crate::test_redis::{cmd, free_ports, metrics, until, within, TestRedis};

    #[test]
    fn each_response_goes_to_its_id_and_a_malformed_one_is_told_as_such() {
        let popped = resp_array![
            "p:gateway:reply:g",
            RespValue::Array(vec![
                RespValue::from(r#"{"id":"g-1","status":200,"headers":[],"body":"aGk="}"#),
                RespValue::from(r#"{"id":"g-2","status":"two hundred"}"#),
                RespValue::from("not json"),
            ])
        ];
        let read = responses(popped).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].0, "g-1");
        assert_eq!(read[0].1.as_ref().unwrap().body, b"hi");
        assert_eq!(read[1].0, "g-2");
        assert!(matches!(
            read[1].1,
            Err(ActorError::WorkerAnswerMalformed(_))
        ));
    }

    /// One gateway thread on `server`, its replies read by a dispatcher on `dispatcher_redis`;
    /// its requests go to `<prefix>q`.
    fn gateway(server: &TestRedis, dispatcher_redis: Redis) -> Addr<Gateway> {
        let settings = GatewaySettings {
            timeout: Duration::from_secs(30),
            queue_max: 10,
            metrics: metrics(),
            routes: RouteTable::only(format!("{}q", server.prefix)),
            tracking: None,
        };
        testing::gateway(server, settings, dispatcher_redis)
    }

    fn submit(path: &str) -> Submit {
        testing::submit(path, None)
    }

    #[actix::test]
    async fn a_response_pushed_on_the_reply_list_reaches_the_request_waiting_for_it() {
        let server = TestRedis::start();
        let (redis, queue) = (server.redis(), format!("{}q", server.prefix));
        let gateway = gateway(&server, server.redis());
        let (first, second) = (gateway.send(submit("/a")), gateway.send(submit("/b")));
        // The worker's part: each request off the queue, answered on its reply list.
        let worker = async {
            for _ in 0..2 {
                let raw: String = until("a request on the queue", || async {
                    cmd::<Option<String>>(&redis, resp_array!["RPOP", queue.as_str()]).await
                })
                .await;
                let request: GatewayRequest = serde_json::from_str(&raw).unwrap();
                let answer = match request.path.as_str() {
                    "/a" => format!(r#"{{"id":"{}","status":201,"body":"aGk="}}"#, request.id),
                    _ => format!(r#"{{"id":"{}","status":"odd"}}"#, request.id),
                };
                let reply = resp_array!["LPUSH", request.reply_to.as_str(), answer];
                let _: i64 = cmd(&redis, reply).await;
            }
        };
        let (first, second, ()) = within("the answers", async {
            futures_util::join!(first, second, worker)
        })
        .await;
        let first = first.unwrap().answer.unwrap();
        assert_eq!((first.status, first.body.as_slice()), (201, &b"hi"[..]));
        assert!(matches!(
            second.unwrap().answer,
            Err(ActorError::WorkerAnswerMalformed(_))
        ));
        let replies = redis.keys().gateway_replies("g");
        assert_eq!(cmd::<i64>(&redis, resp_array!["LLEN", replies]).await, 0);
    }

    #[actix::test]
    async fn with_the_reply_list_unreachable_a_waiting_request_is_answered_before_its_timeout() {
        let server = TestRedis::start();
        let nowhere = format!("redis://127.0.0.1:{}", free_ports(1).start());
        let unreachable = Redis::new(RedisConfig::from_url(&nowhere, &server.prefix).unwrap());
        let gateway = gateway(&server, unreachable);
        let answer = within("the answer", gateway.send(submit("/a"))).await;
        assert!(matches!(
            answer.unwrap().answer,
            Err(ActorError::RedisUnavailable(_))
        ));
        let queue = format!("{}q", server.prefix);
        assert_eq!(
            cmd::<i64>(&server.redis(), resp_array!["LLEN", queue]).await,
            1
        );
    }
}
