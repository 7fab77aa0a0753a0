//! `Forwarder`: answers the `Store`'s messages by relaying them to the main instance.

use std::time::Duration;

use actix::{Actor, Context, Handler, ResponseFuture};

use super::keyvalue::Value;
use super::link_frame::{LinkAnswer, LinkRequest};
use super::main_link::MainLink;
use super::messages::{Delete, DeleteOutcome, Get, Put, PutOutcome};
use super::relaying::unavailable;
use crate::error::ActorError;

pub use super::relaying::RELAYED_HEADER;

/// Relays `Put`, `Get` and `Delete` to the main instance's `/kvs` API and keeps no key-value
/// state of its own.
///
/// `awc::Client` is not `Send`, so start one `Forwarder` per worker thread; each has its own
/// link to the main.
pub struct Forwarder {
    link: MainLink,
}

impl Forwarder {
    /// `main` is the main instance's `host:port`. Every relayed request, connecting included,
    /// gets an answer within `timeout`: the main's answer or `ActorError::MainUnavailable`.
    pub fn new(main: &str, timeout: Duration) -> Self {
        Self {
            link: MainLink::new(main, timeout),
        }
    }
}

impl Actor for Forwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        crate::size_mailbox_for_a_worker(ctx);
    }
}

impl Handler<Put> for Forwarder {
    type Result = ResponseFuture<Result<PutOutcome, ActorError>>;

    fn handle(&mut self, msg: Put, _: &mut Context<Self>) -> Self::Result {
        let link = self.link.clone();
        Box::pin(async move {
            match link.relay(LinkRequest::Put(msg.key, msg.value)).await? {
                LinkAnswer::Put(outcome) => Ok(outcome),
                LinkAnswer::StoreFull => Err(ActorError::StoreFull),
                _ => Err(out_of_turn()),
            }
        })
    }
}

impl Handler<Get> for Forwarder {
    type Result = ResponseFuture<Result<Option<Value>, ActorError>>;

    fn handle(&mut self, msg: Get, _: &mut Context<Self>) -> Self::Result {
        let link = self.link.clone();
        Box::pin(async move {
            match link.relay(LinkRequest::Get(msg.key)).await? {
                LinkAnswer::Found(value) => Ok(Some(value)),
                LinkAnswer::NotFound => Ok(None),
                _ => Err(out_of_turn()),
            }
        })
    }
}

impl Handler<Delete> for Forwarder {
    type Result = ResponseFuture<Result<DeleteOutcome, ActorError>>;

    fn handle(&mut self, msg: Delete, _: &mut Context<Self>) -> Self::Result {
        let link = self.link.clone();
        Box::pin(async move {
            match link.relay(LinkRequest::Delete(msg.key)).await? {
                LinkAnswer::Deleted => Ok(DeleteOutcome::Deleted),
                LinkAnswer::NotFound => Ok(DeleteOutcome::NotFound),
                _ => Err(out_of_turn()),
            }
        })
    }
}

/// An answer of another request's kind: a main that mixed up its answers.
fn out_of_turn() -> ActorError {
    unavailable("main answered another kind of request")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvs::keyvalue::Key;
    use actix_rt::net::TcpListener;
    use std::time::Instant;

    fn get_foo() -> Get {
        Get {
            key: Key::parse("foo").unwrap(),
        }
    }

    #[actix::test]
    async fn refused_connection_is_unavailable() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let forwarder = Forwarder::new(&format!("127.0.0.1:{port}"), Duration::from_secs(1));
        let answer = forwarder.start().send(get_foo()).await.unwrap();
        assert!(matches!(answer, Err(ActorError::MainUnavailable(_))));
    }

    #[actix::test]
    async fn silent_main_is_unavailable_within_the_timeout() {
        // Accepts connections (the kernel's backlog does) and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let main = listener.local_addr().unwrap().to_string();
        let forwarder = Forwarder::new(&main, Duration::from_millis(300)).start();
        let started = Instant::now();
        let answer = forwarder.send(get_foo()).await.unwrap();
        assert!(matches!(answer, Err(ActorError::MainUnavailable(_))));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }
}
