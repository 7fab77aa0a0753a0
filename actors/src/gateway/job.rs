//! [`Job`]: what a gateway worker does with each request it takes (answer it with the app,
//! serve a file, render a page, route it to another queue), and the [`Outcome`] it pushes.

use std::rc::Rc;

use futures_util::future::LocalBoxFuture;

use super::message::{GatewayRequest, GatewayResponse};

/// How long a reply list outlives its last response: a gateway that died leaves nothing behind
/// for long.
pub const REPLY_LIST_LIFETIME_MS: u64 = 60_000;

/// What a worker does with a request.
pub trait Job {
    /// Where to push what, for `request` (whose message is `raw`).
    fn handle(&self, raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome>;
}

/// What is pushed, and where, once a request is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// A full Redis key.
    pub destination: String,
    pub message: Vec<u8>,
    /// Set on the destination after the push (a reply list, never a queue).
    pub expire_ms: Option<u64>,
    /// The status of the answer pushed, when the outcome is an answer (not a request routed on).
    pub answered: Option<u16>,
}

impl Outcome {
    /// `response` pushed on the reply list `reply_to` (the request's).
    pub fn answer(reply_to: &str, response: &GatewayResponse) -> Self {
        Self {
            destination: reply_to.to_owned(),
            // A response of strings, numbers and base64 always serialises.
            message: serde_json::to_vec(response).unwrap_or_default(),
            expire_ms: Some(REPLY_LIST_LIFETIME_MS),
            answered: Some(response.status),
        }
    }
}
