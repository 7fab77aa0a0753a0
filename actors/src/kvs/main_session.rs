//! [`LinkSession`]: the main's end of one forwarder's link (docs/forwarder-link.md). Each
//! binary message's frames go to the thread's `Store` as one `ApplyLinkRequests`, applied in
//! order, and come back as answer frames, as few messages as their size allows. Anything else
//! a peer sends closes the link; so does the main as it stops (its store gate closes).
//!
//! The socket itself is the HTTP side's ([`LinkPeer`]): this file knows frames, not WebSockets.

use std::future::Future;

use actix::prelude::*;
use bytes::{Bytes, BytesMut};

use super::link_frame::{LinkRequest, Malformed, MESSAGE_TARGET_BYTES};
use super::store::ApplyLinkRequests;
use super::store_gate::StoreGate;

/// What the forwarder sent.
pub enum PeerMessage {
    /// A message of link frames.
    Frames(Bytes),
    Ping(Bytes),
    /// Nothing to answer (a pong).
    Nothing,
    /// The forwarder closed the link, or the connection ended.
    Ended,
    /// Not link frames: a text message, a broken WebSocket frame.
    Refused(String),
}

/// Why the main closed a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// The forwarder closed it, or the connection ended.
    Ended,
    /// The main is stopping: the forwarder answers what it has in flight as unavailable.
    Stopping,
    /// The peer broke the protocol.
    Refused(String),
}

/// The link's socket. A send that fails means the link is gone.
pub trait LinkPeer: Unpin + 'static {
    fn next(&mut self) -> impl Future<Output = PeerMessage>;
    fn send(&mut self, message: Bytes) -> impl Future<Output = Result<(), ()>>;
    fn pong(&mut self, ping: Bytes) -> impl Future<Output = Result<(), ()>>;
    fn close(self, closing: Closing) -> impl Future<Output = ()>;
}

/// Serves one link from the moment it starts, and stops when the link closes.
pub struct LinkSession<P> {
    /// Moved into the loop when the session starts.
    peer: Option<P>,
    store: Recipient<ApplyLinkRequests>,
    gate: StoreGate,
}

impl<P: LinkPeer> LinkSession<P> {
    pub fn new(peer: P, store: Recipient<ApplyLinkRequests>, gate: StoreGate) -> Self {
        Self {
            peer: Some(peer),
            store,
            gate,
        }
    }
}

impl<P: LinkPeer> Actor for LinkSession<P> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(peer) = self.peer.take() else {
            return;
        };
        let serving = serve(peer, self.store.clone(), self.gate.clone());
        ctx.wait(fut::wrap_future(serving).map(|(), _, ctx: &mut Context<Self>| ctx.stop()));
    }
}

async fn serve<P: LinkPeer>(mut peer: P, store: Recipient<ApplyLinkRequests>, gate: StoreGate) {
    let closing = loop {
        // Between messages only: a message being answered is answered first.
        let received = tokio::select! {
            biased;
            () = gate.closed() => break Closing::Stopping,
            received = peer.next() => received,
        };
        match received {
            PeerMessage::Frames(frames) => match answer(&mut peer, &store, frames).await {
                Ok(Answered::All) => {}
                Ok(Answered::UntilClosed) => break Closing::Stopping,
                Ok(Answered::LinkGone) => break Closing::Ended,
                Err(err) => break Closing::Refused(err.to_string()),
            },
            PeerMessage::Ping(ping) => {
                if peer.pong(ping).await.is_err() {
                    break Closing::Ended;
                }
            }
            PeerMessage::Nothing => {}
            PeerMessage::Ended => break Closing::Ended,
            PeerMessage::Refused(why) => break Closing::Refused(why),
        }
    };
    if let Closing::Refused(why) = &closing {
        log::debug!("a forwarder's link refused: {why}");
    }
    peer.close(closing).await;
}

/// How far a message was answered.
enum Answered {
    All,
    /// The store closed part way (the main is stopping): the rest go unanswered.
    UntilClosed,
    LinkGone,
}

/// Answers one message's frames.
async fn answer<P: LinkPeer>(
    peer: &mut P,
    store: &Recipient<ApplyLinkRequests>,
    frames: Bytes,
) -> Result<Answered, Malformed> {
    let requests = LinkRequest::decode_all(frames)?;
    let asked = requests.len();
    // The store's actor is gone only when the server stops: the link closes, and the
    // forwarder answers what it had sent as unavailable.
    let Ok(answers) = store.send(ApplyLinkRequests(requests)).await else {
        return Ok(Answered::LinkGone);
    };
    let complete = answers.len() == asked;
    let mut out = BytesMut::new();
    for (id, answer) in answers {
        answer.encode(id, &mut out);
        // Sent as they fill: the socket holds a bounded number of messages, so a forwarder
        // that does not read holds this loop rather than the main's memory.
        if out.len() >= MESSAGE_TARGET_BYTES && peer.send(out.split().freeze()).await.is_err() {
            return Ok(Answered::LinkGone);
        }
    }
    Ok(
        if !out.is_empty() && peer.send(out.freeze()).await.is_err() {
            Answered::LinkGone
        } else if complete {
            Answered::All
        } else {
            Answered::UntilClosed
        },
    )
}
