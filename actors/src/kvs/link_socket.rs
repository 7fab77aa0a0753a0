//! `LinkSocket`: a forwarder thread's WebSocket to the main's `/kvs-link`, carrying many
//! requests at once (docs/forwarder-link.md). Requests wait in an outbox while a message is
//! being written and go out together in the next one; answers come back by id, in any order.
//!
//! One connection per thread, opened on first use by whichever request comes first (the others
//! wait for the same opening), and opened again by the next request once it has closed. A
//! connection closes when the main closes it, when a request on it finds no answer within its
//! time (a main that went silent), or when the main sends something malformed; every request
//! still waiting on it is then answered unavailable.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use awc::error::{WsClientError, WsProtocolError};
use awc::http::StatusCode;
use awc::ws::{Frame, Message};
use awc::Client;
use bytes::{Bytes, BytesMut};
use futures_util::future::{FutureExt as _, LocalBoxFuture, Shared};
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::sync::{oneshot, Notify};
use tokio::time::{timeout, timeout_at, Instant};

use super::link_frame::{
    LinkAnswer, LinkRequest, Malformed, MAX_FRAMES_PER_MESSAGE, MAX_MESSAGE_BYTES,
    MESSAGE_TARGET_BYTES,
};
use super::main_link::{no_answer_within, unavailable, FORWARDER_NAMED};
use crate::error::ActorError;

/// An idle link sends a ping this often: the main closes a connection that sends nothing for
/// its `CLIENT_TIMEOUT_MS`.
const PING_EVERY: Duration = Duration::from_millis(500);

/// Why a request that was on a link, or about to go on it, is answered unavailable.
const LINK_CLOSED: &str = "the link to the main closed";

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
    Opening(Opening),
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
                State::Opening(opening) if still_useful(opening) => opening.clone(),
                _ => {
                    let opening = open(self.client.clone(), Rc::clone(&self.url), self.timeout)
                        .boxed_local()
                        .shared();
                    *state = State::Opening(opening.clone());
                    opening
                }
            }
        };
        let opened = opening.await;
        let mut state = self.state.borrow_mut();
        if matches!(*state, State::Opening(_)) {
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

/// Whether waiting on `opening` can still give a link: it is under way, or it ended with one
/// that is open, or with the main's "no link here". An opening that ended while no request was
/// waiting (they had all timed out) may hold a link that closed since, or a failure that is old
/// news: the next request opens anew.
fn still_useful(opening: &Opening) -> bool {
    match opening.peek() {
        None => true,
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
    let connection = Rc::new(Connection {
        url,
        ..Connection::default()
    });
    let (sink, stream) = framed.split();
    actix_rt::spawn(write(Rc::clone(&connection), sink));
    actix_rt::spawn(read(Rc::clone(&connection), stream));
    Ok(connection)
}

/// One open WebSocket: the requests waiting for answers, and the frames waiting to be written.
#[derive(Default)]
struct Connection {
    url: Rc<str>,
    next_id: Cell<u32>,
    waiting: RefCell<HashMap<u32, oneshot::Sender<LinkAnswer>>>,
    outbox: RefCell<Outbox>,
    /// Wakes the writer: frames to write, or the connection closed.
    to_write: Notify,
    /// Wake the writer (in the middle of a write) and the reader when the connection closed.
    closing_writer: Notify,
    closing_reader: Notify,
    closed: Cell<bool>,
}

/// Frames not yet written, as the messages they will go in: each message holds frames until
/// it passes `MESSAGE_TARGET_BYTES` or `MAX_FRAMES_PER_MESSAGE`.
#[derive(Default)]
struct Outbox {
    full: VecDeque<Bytes>,
    filling: BytesMut,
    frames: usize,
}

impl Outbox {
    fn push(&mut self, id: u32, request: &LinkRequest) {
        request.encode(id, &mut self.filling);
        self.frames += 1;
        if self.filling.len() >= MESSAGE_TARGET_BYTES || self.frames == MAX_FRAMES_PER_MESSAGE {
            self.full.push_back(self.filling.split().freeze());
            self.frames = 0;
        }
    }

    fn next_message(&mut self) -> Option<Bytes> {
        if let Some(message) = self.full.pop_front() {
            return Some(message);
        }
        if self.filling.is_empty() {
            return None;
        }
        self.frames = 0;
        Some(self.filling.split().freeze())
    }
}

impl Connection {
    /// Queues `request`; the receiver gets its answer, or is dropped if the connection closes.
    fn send(&self, request: &LinkRequest) -> Result<oneshot::Receiver<LinkAnswer>, ActorError> {
        if self.closed.get() {
            return Err(unavailable(LINK_CLOSED));
        }
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let (answer, answered) = oneshot::channel();
        self.waiting.borrow_mut().insert(id, answer);
        self.outbox.borrow_mut().push(id, request);
        self.to_write.notify_one();
        Ok(answered)
    }

    fn answer(&self, id: u32, answer: LinkAnswer) {
        if let Some(waiting) = self.waiting.borrow_mut().remove(&id) {
            // The request may have given up meanwhile: nobody to tell.
            let _ = waiting.send(answer);
        }
    }

    /// Drops every waiting request (each is answered unavailable) and stops both tasks.
    fn close(&self) {
        self.closed.set(true);
        self.waiting.borrow_mut().clear();
        self.to_write.notify_one();
        self.closing_writer.notify_one();
        self.closing_reader.notify_one();
    }
}

/// Writes the outbox a message at a time: while one is being written, the next fills.
async fn write<S>(connection: Rc<Connection>, mut sink: S)
where
    S: Sink<Message, Error = WsProtocolError> + Unpin,
{
    while !connection.closed.get() {
        let next = connection.outbox.borrow_mut().next_message();
        let message = match next {
            Some(frames) => Message::Binary(frames),
            None => match timeout(PING_EVERY, connection.to_write.notified()).await {
                Ok(()) => continue,
                Err(_) => Message::Ping(Bytes::new()),
            },
        };
        // A main that stopped reading would hold the write: closing ends it.
        let sent = tokio::select! {
            sent = sink.send(message) => sent,
            () = connection.closing_writer.notified() => break,
        };
        if let Err(err) = sent {
            log::debug!("link to the main: write failed: {err}");
            break;
        }
    }
    connection.close();
}

fn answer_all(connection: &Connection, message: &mut Bytes) -> Result<(), Malformed> {
    while let Some((id, answer)) = LinkAnswer::decode(message)? {
        connection.answer(id, answer);
    }
    Ok(())
}

/// Hands each answer to its request until the connection ends or closes.
async fn read<S>(connection: Rc<Connection>, mut stream: S)
where
    S: Stream<Item = Result<Frame, WsProtocolError>> + Unpin,
{
    // Why the main ended the link; nothing when this side closed it (a request that timed
    // out, logged with the outage).
    let ended = loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            () = connection.closing_reader.notified() => break None,
        };
        match frame {
            Some(Ok(Frame::Binary(mut message))) => {
                if let Err(err) = answer_all(&connection, &mut message) {
                    break Some(err.to_string());
                }
            }
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
            Some(Ok(Frame::Close(reason))) => {
                break Some(format!("closed by the main: {reason:?}"))
            }
            Some(Ok(_)) => break Some("a text frame from the main".to_owned()),
            Some(Err(err)) => break Some(err.to_string()),
            None => break Some("connection ended".to_owned()),
        }
    };
    if let Some(why) = ended {
        log::info!("link to the main at {} closed: {why}", connection.url);
    }
    connection.close();
}
