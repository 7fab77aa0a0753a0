//! [`Connection`]: one open link to the main, and the two tasks that write its requests and
//! read its answers.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use awc::error::WsProtocolError;
use awc::ws::{Frame, Message};
use bytes::{Bytes, BytesMut};
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::sync::{oneshot, Notify};
use tokio::time::timeout;

use super::link_frame::{
    LinkAnswer, LinkRequest, Malformed, MAX_FRAMES_PER_MESSAGE, MESSAGE_TARGET_BYTES,
};
use super::relaying::unavailable;
use crate::error::ActorError;

/// An idle link sends a ping this often: the main closes a connection that sends nothing for
/// its `CLIENT_TIMEOUT_MS`.
const PING_EVERY: Duration = Duration::from_millis(500);

/// Why a request that was on a link, or about to go on it, is answered unavailable.
pub(super) const LINK_CLOSED: &str = "the link to the main closed";

/// One open WebSocket: the requests waiting for answers, and the frames waiting to be written.
#[derive(Default)]
pub(super) struct Connection {
    url: Rc<str>,
    next_id: Cell<u32>,
    waiting: RefCell<HashMap<u32, oneshot::Sender<LinkAnswer>>>,
    outbox: RefCell<Outbox>,
    /// Wakes the writer: frames to write, or the connection closed.
    to_write: Notify,
    /// Wake the writer (in the middle of a write) and the reader when the connection closed.
    closing_writer: Notify,
    closing_reader: Notify,
    pub(super) closed: Cell<bool>,
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
    pub(super) fn new(url: Rc<str>) -> Self {
        Self {
            url,
            ..Self::default()
        }
    }

    /// Queues `request`; the receiver gets its answer, or is dropped if the connection closes.
    pub(super) fn send(
        &self,
        request: &LinkRequest,
    ) -> Result<oneshot::Receiver<LinkAnswer>, ActorError> {
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
    pub(super) fn close(&self) {
        self.closed.set(true);
        self.waiting.borrow_mut().clear();
        self.to_write.notify_one();
        self.closing_writer.notify_one();
        self.closing_reader.notify_one();
    }
}

/// Writes the outbox a message at a time: while one is being written, the next fills.
pub(super) async fn write<S>(connection: Rc<Connection>, mut sink: S)
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
pub(super) async fn read<S>(connection: Rc<Connection>, mut stream: S)
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
