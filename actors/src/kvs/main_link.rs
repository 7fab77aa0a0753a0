//! `MainLink`: a forwarder's link to the main instance. Requests go over the main's
//! `/kvs-link` WebSocket ([`LinkSocket`]), or as plain HTTP requests ([`HttpRelay`]) to a main
//! from before the link. Every request is bounded as a whole (connecting included), and an
//! outage is logged when it starts and when it ends, not once per request.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use awc::{Client, Connector};
use tokio::time::{timeout_at, Instant};

use super::http_relay::HttpRelay;
use super::link_frame::{LinkAnswer, LinkRequest};
use super::link_socket::{LinkFailure, LinkSocket};
use crate::error::{ActorError, Cause};
use crate::IDLE_CONNECTION_LIFETIME;

/// Marks the requests a forwarder relays, so the main does not record them as visits a second
/// time (the forwarder recorded the client's request already), and so a forwarder can refuse
/// one another forwarder relayed to it.
pub const RELAYED_HEADER: &str = "x-switchyard-relayed";

/// What a forwarder is told when its `MAINIP` names another forwarder.
pub(super) const FORWARDER_NAMED: &str = "MAINIP names a forwarding instance, not the main";

pub fn unavailable(description: impl std::fmt::Display) -> ActorError {
    ActorError::MainUnavailable(Cause::described(description))
}

/// The main did not answer a request within the forward timeout.
pub(super) fn no_answer_within(timeout: Duration) -> ActorError {
    unavailable(format_args!("no answer within {timeout:?}"))
}

/// One worker's link to the main: `awc::Client` is not `Send`, so each worker thread has its
/// own. Cloning shares it.
#[derive(Clone)]
pub struct MainLink {
    socket: LinkSocket,
    http: HttpRelay,
    main: Rc<str>,
    timeout: Duration,
    /// Whether the last request reached the main.
    reachable: Rc<Cell<bool>>,
}

impl MainLink {
    /// `main` is the main instance's `host:port`.
    pub fn new(main: &str, timeout: Duration) -> Self {
        let connector = Connector::new()
            .timeout(timeout)
            .conn_keep_alive(IDLE_CONNECTION_LIFETIME);
        // Each request is bounded as a whole here, so awc's own timer would only add work.
        let client = Client::builder()
            .connector(connector)
            .disable_timeout()
            .no_default_headers()
            .add_default_header((RELAYED_HEADER, "1"))
            .finish();
        Self {
            socket: LinkSocket::new(client.clone(), main, timeout),
            http: HttpRelay::new(client, main),
            main: main.into(),
            timeout,
            reachable: Rc::new(Cell::new(true)),
        }
    }

    /// Relays one request and waits for its answer, all within the timeout.
    pub async fn relay(&self, request: LinkRequest) -> Result<LinkAnswer, ActorError> {
        let deadline = Instant::now() + self.timeout;
        let result = match self.socket.exchange(&request, deadline).await {
            Ok(answer) => Ok(answer),
            Err(LinkFailure::Unavailable(err)) => Err(err),
            Err(LinkFailure::Unsupported) => timeout_at(deadline, self.http.relay(request))
                .await
                .unwrap_or_else(|_| Err(no_answer_within(self.timeout))),
        };
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
}
