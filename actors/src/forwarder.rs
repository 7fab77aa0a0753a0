//! `Forwarder`: answers the `Store`'s messages by relaying them to the main instance.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use actix::{Actor, Context, Handler, ResponseFuture};
use awc::http::StatusCode;
use awc::{Client, Connector, SendClientRequest};
use serde::Deserialize;

use crate::error::ActorError;
use crate::keyvalue::{Key, Value, MAX_VALUE_BYTES};
use crate::store::{Delete, DeleteOutcome, Get, Put, PutOutcome};
use crate::{IDLE_CONNECTION_LIFETIME, MAILBOX_CAPACITY};

/// A GET answer carries the value JSON-escaped: a control character becomes six bytes.
const MAX_ANSWER_BYTES: usize = 6 * MAX_VALUE_BYTES + 1024;

/// Marks the requests a forwarder relays, so the main does not record them as visits a second
/// time (the forwarder recorded the client's request already).
pub const RELAYED_HEADER: &str = "x-switchyard-relayed";

/// Relays `Put`, `Get` and `Delete` to the main instance's `/kvs` API and keeps no key-value
/// state of its own.
///
/// `awc::Client` is not `Send`, so start one `Forwarder` per worker thread; each keeps its
/// own pool of keep-alive connections to the main.
pub struct Forwarder {
    client: Client,
    kvs_url: Rc<str>,
    relay: Relay,
}

impl Forwarder {
    /// `main` is the main instance's `host:port`. Every relayed request, connecting included,
    /// gets an answer within `timeout`: the main's answer or `ActorError::Unavailable`.
    pub fn new(main: &str, timeout: Duration) -> Self {
        let connector = Connector::new()
            .timeout(timeout)
            .conn_keep_alive(IDLE_CONNECTION_LIFETIME);
        // `exchange` bounds each request as a whole, so awc's own timer would only add work.
        let client = Client::builder()
            .connector(connector)
            .disable_timeout()
            .no_default_headers()
            .add_default_header((RELAYED_HEADER, "1"))
            .finish();
        Self {
            client,
            kvs_url: format!("http://{main}/kvs/").into(),
            relay: Relay {
                main: main.into(),
                timeout,
                reachable: Rc::new(Cell::new(true)),
            },
        }
    }

    fn url(&self, key: &Key) -> String {
        format!("{}{}", self.kvs_url, key)
    }
}

impl Actor for Forwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Every open connection of this worker may have one request waiting here; with the
        // default capacity of 16 the rest would park and be woken again.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// The main's answer to a relayed request: its status and whole body.
struct Answer {
    status: StatusCode,
    body: bytes::Bytes,
}

impl Answer {
    fn unexpected(&self) -> ActorError {
        ActorError::unavailable(format!("main answered status {}", self.status))
    }
}

/// What every relayed request of one `Forwarder` shares.
#[derive(Clone)]
struct Relay {
    main: Rc<str>,
    timeout: Duration,
    /// Whether the last exchange reached the main: an outage is logged when it starts and
    /// when it ends, not once per request.
    reachable: Rc<Cell<bool>>,
}

impl Relay {
    /// Sends one request and reads the whole answer, all within the timeout.
    async fn exchange(&self, request: SendClientRequest) -> Result<Answer, ActorError> {
        let result = self.exchange_within_timeout(request).await;
        match &result {
            Ok(_) if !self.reachable.get() => {
                self.reachable.set(true);
                log::info!("main {} answers again", self.main);
            }
            Err(err) if self.reachable.get() => {
                self.reachable.set(false);
                log::warn!(
                    "{err} ({}); answering \"unavailable\" until it is back",
                    self.main
                );
            }
            _ => {}
        }
        result
    }

    async fn exchange_within_timeout(
        &self,
        request: SendClientRequest,
    ) -> Result<Answer, ActorError> {
        let timeout = self.timeout;
        let exchange = async {
            let mut response = request.await.map_err(ActorError::unavailable)?;
            // A forwarder's refusal of a relayed request: an outage of its own kind, logged
            // when it starts like the others.
            if response.status() == StatusCode::LOOP_DETECTED {
                return Err(ActorError::unavailable(
                    "MAINIP names a forwarding instance, not the main",
                ));
            }
            let body = response
                .body()
                .limit(MAX_ANSWER_BYTES)
                .await
                .map_err(ActorError::unavailable)?;
            Ok(Answer {
                status: response.status(),
                body,
            })
        };
        actix_rt::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ActorError::unavailable(format!("no answer within {timeout:?}")))?
    }
}

impl Handler<Put> for Forwarder {
    type Result = ResponseFuture<Result<PutOutcome, ActorError>>;

    fn handle(&mut self, msg: Put, _: &mut Context<Self>) -> Self::Result {
        let request = self
            .client
            .put(self.url(&msg.key))
            .send_form(&[("val", msg.value.as_str())]);
        let relay = self.relay.clone();
        Box::pin(async move {
            let answer = relay.exchange(request).await?;
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
        let request = self.client.get(self.url(&msg.key)).send();
        let relay = self.relay.clone();
        Box::pin(async move {
            let answer = relay.exchange(request).await?;
            match answer.status {
                StatusCode::OK => {
                    let found: FoundBody = serde_json::from_slice(&answer.body)
                        .map_err(|e| ActorError::unavailable(format!("main's answer: {e}")))?;
                    let value = Value::new(&found.value).map_err(|e| {
                        ActorError::unavailable(format!("main's value refused: {e:?}"))
                    })?;
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
        let request = self.client.delete(self.url(&msg.key)).send();
        let relay = self.relay.clone();
        Box::pin(async move {
            let answer = relay.exchange(request).await?;
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
        assert!(matches!(answer, Err(ActorError::Unavailable { .. })));
    }

    #[actix::test]
    async fn silent_main_is_unavailable_within_the_timeout() {
        // Accepts connections (the kernel's backlog does) and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let main = listener.local_addr().unwrap().to_string();
        let forwarder = Forwarder::new(&main, Duration::from_millis(300)).start();
        let started = Instant::now();
        let answer = forwarder.send(get_foo()).await.unwrap();
        assert!(matches!(answer, Err(ActorError::Unavailable { .. })));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }
}
