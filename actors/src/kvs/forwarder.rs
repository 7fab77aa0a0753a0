//! `Forwarder`: answers the `Store`'s messages by relaying them to the main instance.

use std::time::Duration;

use actix::{Actor, Context, Handler, ResponseFuture};
use awc::http::{Method, StatusCode};
use serde::Deserialize;

use super::keyvalue::Value;
use super::main_link::{unavailable, MainLink};
use super::store::{Delete, DeleteOutcome, Get, Put, PutOutcome};
use crate::error::ActorError;

pub use super::main_link::RELAYED_HEADER;

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
        let request = self
            .link
            .request(Method::PUT, &msg.key)
            .send_form(&[("val", msg.value.as_str())]);
        let link = self.link.clone();
        Box::pin(async move {
            let answer = link.exchange(request).await?;
            match answer.status {
                StatusCode::CREATED => Ok(PutOutcome::Created),
                StatusCode::OK => Ok(PutOutcome::Replaced),
                StatusCode::INSUFFICIENT_STORAGE => Err(ActorError::StoreFull),
                _ => Err(answer.unexpected()),
            }
        })
    }
}

/// The part of the main's GET answer the forwarder needs.
#[derive(Deserialize)]
struct FoundBody {
    value: String,
}

impl Handler<Get> for Forwarder {
    type Result = ResponseFuture<Result<Option<Value>, ActorError>>;

    fn handle(&mut self, msg: Get, _: &mut Context<Self>) -> Self::Result {
        let request = self.link.request(Method::GET, &msg.key).send();
        let link = self.link.clone();
        Box::pin(async move {
            let answer = link.exchange(request).await?;
            match answer.status {
                StatusCode::OK => {
                    let found: FoundBody = serde_json::from_slice(&answer.body)
                        .map_err(|e| unavailable(format_args!("main's answer: {e}")))?;
                    let value = Value::new(&found.value)
                        .map_err(|e| unavailable(format_args!("main's value refused: {e}")))?;
                    Ok(Some(value))
                }
                StatusCode::NOT_FOUND => Ok(None),
                _ => Err(answer.unexpected()),
            }
        })
    }
}

impl Handler<Delete> for Forwarder {
    type Result = ResponseFuture<Result<DeleteOutcome, ActorError>>;

    fn handle(&mut self, msg: Delete, _: &mut Context<Self>) -> Self::Result {
        let request = self.link.request(Method::DELETE, &msg.key).send();
        let link = self.link.clone();
        Box::pin(async move {
            let answer = link.exchange(request).await?;
            match answer.status {
                StatusCode::OK => Ok(DeleteOutcome::Deleted),
                StatusCode::NOT_FOUND => Ok(DeleteOutcome::NotFound),
                _ => Err(answer.unexpected()),
            }
        })
    }
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
