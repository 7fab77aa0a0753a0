//! The messages every key-value actor answers, the main's `Store` and a forwarder's
//! `Forwarder` alike, and what they did.

use actix::Message;

use super::keyvalue::{Key, Value};
use crate::error::ActorError;

/// Store `value` under `key`, replacing any value there. Refused with
/// [`ActorError::StoreFull`] when the store would pass its byte cap.
#[derive(Debug, Message)]
#[rtype(result = "Result<PutOutcome, ActorError>")]
pub struct Put {
    pub key: Key,
    pub value: Value,
}

/// What a `Put` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Replaced,
}

/// Read the value under `key`; `None` when there is none.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Value>, ActorError>")]
pub struct Get {
    pub key: Key,
}

/// Remove `key` and its value.
#[derive(Debug, Message)]
#[rtype(result = "Result<DeleteOutcome, ActorError>")]
pub struct Delete {
    pub key: Key,
}

/// What a `Delete` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
}
