//! `/kvs-link`: the main's end of the WebSocket a forwarder opens to relay its requests
//! (docs/forwarder-link.md). Each binary message's frames go to this thread's `Store` as one
//! `ApplyLinkRequests`, applied in order, and come back as answer frames, as few messages as
//! their size allows. Anything else a peer sends closes the link.

use actix::Recipient;
use actix_web::http::Method;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use switchyard_actors::kvs::link_frame::{
    LinkRequest, Malformed, MAX_MESSAGE_BYTES, MESSAGE_TARGET_BYTES,
};
use switchyard_actors::kvs::store::ApplyLinkRequests;

use super::{KvsActors, LinkTarget};
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
    actix_web::rt::spawn(serve_link(session, messages, target));
    Ok(response)
}

/// Why a link was closed by the main.
enum Closing {
    /// The forwarder closed it, or the connection ended.
    Ended,
    /// The main is stopping: the forwarder answers what it has in flight as unavailable.
    Stopping,
    /// The peer broke the protocol.
    Refused(String),
}

async fn serve_link(mut session: Session, mut messages: MessageStream, target: LinkTarget) {
    let closing = loop {
        // Between messages only: a message being answered is answered first.
        let received = tokio::select! {
            biased;
            () = target.gate.closed() => break Closing::Stopping,
            received = messages.recv() => received,
        };
        let message = match received {
            Some(Ok(message)) => message,
            Some(Err(err)) => break Closing::Refused(err.to_string()),
            None => break Closing::Ended,
        };
        match message {
            Message::Binary(frames) => match answer(&mut session, &target.store, frames).await {
                Ok(Answered::All) => {}
                Ok(Answered::UntilClosed) => break Closing::Stopping,
                Ok(Answered::LinkGone) => break Closing::Ended,
                Err(err) => break Closing::Refused(err.to_string()),
            },
            Message::Ping(bytes) => {
                if session.pong(&bytes).await.is_err() {
                    break Closing::Ended;
                }
            }
            Message::Pong(_) | Message::Nop => {}
            Message::Close(_) => break Closing::Ended,
            Message::Text(_) | Message::Continuation(_) => {
                break Closing::Refused("only whole binary messages are link frames".into())
            }
        }
    };
    let reason = match closing {
        Closing::Ended => None,
        Closing::Stopping => Some(CloseReason {
            code: CloseCode::Away,
            description: Some("the main is stopping".into()),
        }),
        Closing::Refused(description) => {
            log::debug!("a forwarder's link refused: {description}");
            Some(CloseReason {
                code: CloseCode::Policy,
                description: Some(description),
            })
        }
    };
    let _ = session.close(reason).await;
}

/// How far a message was answered.
enum Answered {
    All,
    /// The store closed part way (the main is stopping): the rest go unanswered.
    UntilClosed,
    LinkGone,
}

/// Answers one message's frames.
async fn answer(
    session: &mut Session,
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
        // Sent as they fill: the session holds a bounded number of messages, so a forwarder
        // that does not read holds this loop rather than the main's memory.
        if out.len() >= MESSAGE_TARGET_BYTES && session.binary(out.split().freeze()).await.is_err()
        {
            return Ok(Answered::LinkGone);
        }
    }
    Ok(
        if !out.is_empty() && session.binary(out.freeze()).await.is_err() {
            Answered::LinkGone
        } else if complete {
            Answered::All
        } else {
            Answered::UntilClosed
        },
    )
}
