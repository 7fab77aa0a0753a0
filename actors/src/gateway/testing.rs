//! For the gateway's tests: one gateway thread and the dispatcher that reads its replies.

use actix::{Actor, Addr};

use super::dispatcher::Dispatcher;
use super::front::{Gateway, GatewaySettings, Submit};
use super::threads::GatewayThreads;
use crate::redis::Redis;
use crate::test_redis::TestRedis;

/// One gateway thread `g` on `server` with `settings`, its replies read by a dispatcher on
/// `dispatcher_redis`.
pub(crate) fn gateway(
    server: &TestRedis,
    settings: GatewaySettings,
    dispatcher_redis: Redis,
) -> Addr<Gateway> {
    let threads = GatewayThreads::default();
    let reply_to = server.redis().keys().gateway_replies("g");
    let gateway = threads.start_for_this_thread(|thread| {
        Gateway::new(server.redis(), "g", thread, reply_to.clone(), settings)
    });
    Dispatcher::new(dispatcher_redis, reply_to, threads).start();
    gateway
}

/// `GET path`, with the client's `X-Request-Id` when given.
pub(crate) fn submit(path: &str, xid: Option<&str>) -> Submit {
    Submit {
        method: "GET".into(),
        path: path.into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        xid: xid.map(str::to_owned),
    }
}
