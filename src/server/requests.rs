//! Each request tells its connection's [`ConnectionClock`] when its head arrived and when its
//! answer is done; its body is cut off when it stalls for the clock's limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_http::body::{BodySize, MessageBody};
use actix_http::{Payload, Request, Response};
use actix_web::web::Bytes;
use switchyard_actors::http::idle_timeout::IdleTimeout;

use super::clock::ConnectionClock;

/// Marks `req`'s head as arrived and bounds the pauses in its body. Answers what to attach to
/// the answer: it tells the clock the answer is done when it is dropped.
pub fn on_head(req: &mut Request) -> Option<AnswerDone> {
    let clock = req.conn_data::<ConnectionClock>()?.clone();
    clock.head_arrived();
    let payload = req.take_payload();
    *req.payload() = match payload {
        Payload::None => Payload::None,
        body => Payload::from(
            Box::pin(IdleTimeout::new(body, clock.limit())) as actix_http::BoxedPayloadStream
        ),
    };
    Some(AnswerDone(clock))
}

/// Tells the clock an answer is done, when dropped: after its last byte was written, or when
/// it failed or was abandoned.
pub struct AnswerDone(ConnectionClock);

impl Drop for AnswerDone {
    fn drop(&mut self) {
        self.0.answer_done();
    }
}

/// An answer's body that carries its [`AnswerDone`] until the dispatcher drops it.
pub struct TrackedBody<B> {
    body: B,
    _done: Option<AnswerDone>,
}

impl<B> TrackedBody<B> {
    pub fn new(body: B, done: Option<AnswerDone>) -> Self {
        Self { body, _done: done }
    }
}

impl<B: MessageBody + Unpin> MessageBody for TrackedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// `response` with its body tracked.
pub fn tracked<B: MessageBody + Unpin>(
    response: Response<B>,
    done: Option<AnswerDone>,
) -> Response<TrackedBody<B>> {
    response.map_body(|_, body| TrackedBody::new(body, done))
}
