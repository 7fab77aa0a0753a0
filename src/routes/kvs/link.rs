//! `/kvs-link`: the main's end of the WebSocket a forwarder opens to relay its requests
//! (docs/forwarder-link.md): the upgrade, and the WebSocket as the session's [`LinkPeer`]. The
//! session itself, frames in and answers out, is `LinkSession`'s.

use actix::Actor;
use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use switchyard_actors::kvs::link_frame::MAX_MESSAGE_BYTES;
use switchyard_actors::kvs::main_session::{Closing, LinkPeer, LinkSession, PeerMessage};

use super::KvsActors;
use crate::error::ApiError;

pub const LINK_PATH: &str = "/kvs-link";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(LINK_PATH, web::to(open_link));
}

async fn open_link(
    req: HttpRequest,
    body: web::Payload,
    actors: web::Data<KvsActors>,
) -> Result<HttpResponse, ApiError> {
    let Some(target) = actors.link.clone() else {
        // A forwarder has no store to link to: whoever names it as the main is misconfigured.
        return Err(ApiError::ForwardingLoop);
    };
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    let (response, session, messages) =
        actix_ws::handle(&req, body).map_err(|_| ApiError::NotALinkUpgrade)?;
    let messages = messages.max_frame_size(MAX_MESSAGE_BYTES);
    LinkSession::new(WebSocket { session, messages }, target.store, target.gate).start();
    Ok(response)
}

/// The link's WebSocket, as actix-ws gives it.
struct WebSocket {
    session: Session,
    messages: MessageStream,
}

impl LinkPeer for WebSocket {
    async fn next(&mut self) -> PeerMessage {
        match self.messages.recv().await {
            Some(Ok(Message::Binary(frames))) => PeerMessage::Frames(frames),
            Some(Ok(Message::Ping(ping))) => PeerMessage::Ping(ping),
            Some(Ok(Message::Pong(_) | Message::Nop)) => PeerMessage::Nothing,
            Some(Ok(Message::Close(_))) | None => PeerMessage::Ended,
            Some(Ok(Message::Text(_) | Message::Continuation(_))) => {
                PeerMessage::Refused("only whole binary messages are link frames".into())
            }
            Some(Err(err)) => PeerMessage::Refused(err.to_string()),
        }
    }

    async fn send(&mut self, message: Bytes) -> Result<(), ()> {
        self.session.binary(message).await.map_err(|_| ())
    }

    async fn pong(&mut self, ping: Bytes) -> Result<(), ()> {
        self.session.pong(&ping).await.map_err(|_| ())
    }

    async fn close(self, closing: Closing) {
        let reason = match closing {
            Closing::Ended => None,
            Closing::Stopping => Some(CloseReason {
                code: CloseCode::Away,
                description: Some("the main is stopping".into()),
            }),
            Closing::Refused(description) => Some(CloseReason {
                code: CloseCode::Policy,
                description: Some(description),
            }),
        };
        let _ = self.session.close(reason).await;
    }
}
