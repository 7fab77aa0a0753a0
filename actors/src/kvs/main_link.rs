//! `MainLink`: a forwarder's HTTP link to the main instance's `/kvs` API. Every exchange is
//! bounded as a whole (connecting included), and an outage is logged when it starts and when
//! it ends, not once per request.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use awc::http::StatusCode;
use awc::{Client, ClientRequest, Connector, SendClientRequest};

use super::keyvalue::{Key, MAX_VALUE_BYTES};
use crate::error::{ActorError, Cause};
use crate::IDLE_CONNECTION_LIFETIME;

/// A GET answer carries the value JSON-escaped: a control character becomes six bytes.
const MAX_ANSWER_BYTES: usize = 6 * MAX_VALUE_BYTES + 1024;

/// Marks the requests a forwarder relays, so the main does not record them as visits a second
/// time (the forwarder recorded the client's request already), and so a forwarder can refuse
/// one another forwarder relayed to it.
pub const RELAYED_HEADER: &str = "x-switchyard-relayed";

/// The main's answer to a relayed request: its status and whole body.
pub struct Answer {
    pub status: StatusCode,
    pub body: bytes::Bytes,
}

impl Answer {
    /// The main answered a status the API does not use for this request.
    pub fn unexpected(&self) -> ActorError {
        unavailable(format_args!("main answered status {}", self.status))
    }
}

pub fn unavailable(description: impl std::fmt::Display) -> ActorError {
    ActorError::MainUnavailable(Cause::described(description))
}

/// One worker's link to the main: `awc::Client` is not `Send`, so each worker thread has its
/// own, with its own pool of keep-alive connections. Cloning shares it.
#[derive(Clone)]
pub struct MainLink {
    client: Client,
    kvs_url: Rc<str>,
    main: Rc<str>,
    timeout: Duration,
    /// Whether the last exchange reached the main.
    reachable: Rc<Cell<bool>>,
}

impl MainLink {
    /// `main` is the main instance's `host:port`.
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
            main: main.into(),
            timeout,
            reachable: Rc::new(Cell::new(true)),
        }
    }

    /// A request for `key`'s URL on the main.
    pub fn request(&self, method: awc::http::Method, key: &Key) -> ClientRequest {
        self.client
            .request(method, format!("{}{}", self.kvs_url, key))
    }

    /// Sends one request and reads the whole answer, all within the timeout.
    pub async fn exchange(&self, request: SendClientRequest) -> Result<Answer, ActorError> {
        let result = self.exchange_within_timeout(request).await;
        match &result {
            Ok(_) if !self.reachable.get() => {
                self.reachable.set(true);
                log::info!("main {} answers again", self.main);
            }
            Err(err) if self.reachable.get() => {
                self.reachable.set(false);
                log::warn!(
                    "main {} unavailable: {}; answering \"unavailable\" until it is back",
                    self.main,
                    crate::error::chain(err)
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
            let mut response = request.await.map_err(unavailable)?;
            // A forwarder's refusal of a relayed request: an outage of its own kind, logged
            // when it starts like the others.
            if response.status() == StatusCode::LOOP_DETECTED {
                return Err(unavailable(
                    "MAINIP names a forwarding instance, not the main",
                ));
            }
            let body = response
                .body()
                .limit(MAX_ANSWER_BYTES)
                .await
                .map_err(unavailable)?;
            Ok(Answer {
                status: response.status(),
                body,
            })
        };
        actix_rt::time::timeout(timeout, exchange)
            .await
            .map_err(|_| unavailable(format_args!("no answer within {timeout:?}")))?
    }
}
