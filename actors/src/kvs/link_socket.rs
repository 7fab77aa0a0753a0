//! `LinkSocket`: a forwarder thread's WebSocket to the main's `/kvs-link`, carrying many
//! requests at once (docs/forwarder-link.md). Requests wait in an outbox while a message is
//! being written and go out together in the next one; answers come back by id, in any order.
//!
//! One connection per thread, opened on first use by whichever request comes first (the others
//! wait for the same opening), and opened again by the next request once it has closed. A
//! connection closes when the main closes it, when a request on it finds no answer within its
//! time (a main that went silent), or when the main sends something malformed; every request
//! still waiting on it is then answered unavailable.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use awc::error::WsClientError;
use awc::http::StatusCode;
use awc::Client;
use futures_util::future::{FutureExt as _, LocalBoxFuture, Shared};
use futures_util::StreamExt as _;
use tokio::time::{timeout, timeout_at, Instant};

use super::link_connection::{read, write, Connection, LINK_CLOSED};
use super::link_frame::{LinkAnswer, LinkRequest, MAX_MESSAGE_BYTES};
use super::relaying::{no_answer_within, unavailable, FORWARDER_NAMED};
use crate::error::ActorError;

/// How long a forwarder relays over plain HTTP after the main answered that it has no link
/// (a main from before it) before it asks again.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// Why a request did not go over the link.
pub enum LinkFailure {
    /// The main has no `/kvs-link`: relay over plain HTTP.
    Unsupported,
    Unavailable(ActorError),
}

impl From<ActorError> for LinkFailure {
    fn from(err: ActorError) -> Self {
        Self::Unavailable(err)
    }
}

type Opening = Shared<LocalBoxFuture<'static, Result<Rc<Connection>, OpenFailure>>>;

#[derive(Clone)]
enum OpenFailure {
    Unsupported,
    Unavailable(ActorError),
}

enum State {
    Closed,
    /// An opening under way, and when it began.
    Opening(Opening, Instant),
    Open(Rc<Connection>),
    /// The main answered the upgrade 404, at the instant given.
    Unsupported(Instant),
}

/// One worker thread's link; cloning shares it.
#[derive(Clone)]
pub struct LinkSocket {
    client: Client,
    url: Rc<str>,
    timeout: Duration,
    state: Rc<RefCell<State>>,
}

impl LinkSocket {
    /// `client` carries the relayed-request header (`MainLink`); `main` is `host:port`.
    pub fn new(client: Client, main: &str, timeout: Duration) -> Self {
        Self {
            client,
            url: format!("http://{main}/kvs-link").into(),
            timeout,
            state: Rc::new(RefCell::new(State::Closed)),
        }
    }

    /// Sends `request` and waits for its answer, opening the link first when there is none;
    /// all of it by `deadline`.
    pub async fn exchange(
        &self,
        request: &LinkRequest,
        deadline: Instant,
    ) -> Result<LinkAnswer, LinkFailure> {
        let connection = timeout_at(deadline, self.connection())
            .await
            .map_err(|_| no_answer_within(self.timeout))??;
        let answer = connection.send(request)?;
        match timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(unavailable(LINK_CLOSED).into()),
            Err(_) => {
                // A main that does not answer in time is taken for gone: the requests behind
                // this one would wait as long.
                connection.close();
                Err(no_answer_within(self.timeout).into())
            }
        }
    }

    async fn connection(&self) -> Result<Rc<Connection>, LinkFailure> {
        let opening = {
            let mut state = self.state.borrow_mut();
            match &*state {
                State::Open(connection) if !connection.closed.get() => {
                    return Ok(Rc::clone(connection))
                }
                State::Unsupported(since) if since.elapsed() < ASK_AGAIN_AFTER => {
                    return Err(LinkFailure::Unsupported)
                }
                State::Opening(opening, began) if still_useful(opening, *began, self.timeout) => {
                    opening.clone()
                }
                _ => {
                    let opening = open(self.client.clone(), Rc::clone(&self.url), self.timeout)
                        .boxed_local()
                        .shared();
                    *state = State::Opening(opening.clone(), Instant::now());
                    opening
                }
            }
        };
        let opened = opening.await;
        let mut state = self.state.borrow_mut();
        if matches!(*state, State::Opening(..)) {
            *state = match &opened {
                Ok(connection) => State::Open(Rc::clone(connection)),
                Err(OpenFailure::Unsupported) => State::Unsupported(Instant::now()),
                Err(OpenFailure::Unavailable(_)) => State::Closed,
            };
        }
        opened.map_err(|failure| match failure {
            OpenFailure::Unsupported => LinkFailure::Unsupported,
            OpenFailure::Unavailable(err) => LinkFailure::Unavailable(err),
        })
    }
}

/// Whether waiting on `opening`, begun at `began`, can still give a link: it is under way, or
/// it ended with one that is open, or with the main's "no link here". An opening that ended
/// while no request was waiting (they had all timed out) may hold a link that closed since, or
/// a failure that is old news; one left unfinished when they timed out is polled by nobody, and
/// its own timer, past by now, would fail the next request at once although the main may be
/// back: the next request opens anew.
fn still_useful(opening: &Opening, began: Instant, limit: Duration) -> bool {
    match opening.peek() {
        None => began.elapsed() < limit,
        Some(Ok(connection)) => !connection.closed.get(),
        Some(Err(OpenFailure::Unsupported)) => true,
        Some(Err(OpenFailure::Unavailable(_))) => false,
    }
}

/// Opens a connection and starts its writer and reader, within `limit`.
async fn open(
    client: Client,
    url: Rc<str>,
    limit: Duration,
) -> Result<Rc<Connection>, OpenFailure> {
    let connecting = client.ws(&*url).max_frame_size(MAX_MESSAGE_BYTES).connect();
    let framed = match timeout(limit, connecting).await {
        Ok(Ok((_, framed))) => framed,
        Ok(Err(WsClientError::InvalidResponseStatus(StatusCode::NOT_FOUND))) => {
            log::info!("main at {url} has no link; relaying over plain HTTP");
            return Err(OpenFailure::Unsupported);
        }
        Ok(Err(WsClientError::InvalidResponseStatus(StatusCode::LOOP_DETECTED))) => {
            return Err(OpenFailure::Unavailable(unavailable(FORWARDER_NAMED)))
        }
        Ok(Err(err)) => return Err(OpenFailure::Unavailable(unavailable(err))),
        Err(_) => {
            return Err(OpenFailure::Unavailable(unavailable(format_args!(
                "link not opened within {limit:?}"
            ))))
        }
    };
    let connection = Rc::new(Connection::new(url));
    let (sink, stream) = framed.split();
    actix_rt::spawn(write(Rc::clone(&connection), sink));
    actix_rt::spawn(read(Rc::clone(&connection), stream));
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never_opens() -> Opening {
        futures_util::future::pending().boxed_local().shared()
    }

    #[actix::test]
    async fn an_opening_under_way_is_joined_until_its_time_is_up() {
        let limit = Duration::from_millis(1500);
        assert!(still_useful(&never_opens(), Instant::now(), limit));
        // Left unfinished by requests that timed out: its own timer is past, and polling it
        // again would fail the next request at once, whether the main is back or not.
        let began = Instant::now() - limit;
        assert!(!still_useful(&never_opens(), began, limit));
    }

    #[actix::test]
    async fn an_opening_that_failed_is_not_joined_and_no_link_here_is() {
        let limit = Duration::from_millis(1500);
        let failed: Opening =
            futures_util::future::ready(Err(OpenFailure::Unavailable(unavailable("refused"))))
                .boxed_local()
                .shared();
        let _ = failed.clone().await;
        assert!(!still_useful(&failed, Instant::now(), limit));
        let unsupported: Opening = futures_util::future::ready(Err(OpenFailure::Unsupported))
            .boxed_local()
            .shared();
        let _ = unsupported.clone().await;
        assert!(still_useful(&unsupported, Instant::now(), limit));
    }
}
