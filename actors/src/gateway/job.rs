//! [`Job`]: what a gateway worker does with each request it takes (answer it with the app,
//! serve a file, render a page, route it to another queue), and the [`Outcome`] it pushes.

use std::rc::Rc;

use futures_util::future::LocalBoxFuture;

use super::message::GatewayRequest;

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
}
