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
use super::relaying::{no_answer_within, RELAYED_HEADER};
use crate::error::ActorError;
use crate::IDLE_CONNECTION_LIFETIME;

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
