//! The wordings of the key-value API: `/kvs` (which also takes the course's later form, the
//! key as a `key` field: `named_key.rs`) and the older `/kv-store`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use switchyard_actors::error::{ActorError, ClientFault};
use switchyard_actors::kvs::keyvalue::{KeyError, Value, ValueError, MAX_KEY_LEN};
use switchyard_actors::kvs::messages::PutOutcome;

use crate::error::ApiError;

/// Everything that differs between the key-value APIs; the handlers are shared.
pub trait Dialect: 'static {
    /// The longest key the dialect accepts, in characters.
    const MAX_KEY_LEN: usize;

    /// Whether a request may name its key as a `key` field (in the query, or in a PUT's form
    /// with the value as `value`) instead of in the path.
    const KEY_FIELD: bool = false;

    fn put_answer(outcome: PutOutcome) -> HttpResponse;
    fn found(value: &Value) -> HttpResponse;
    fn deleted() -> HttpResponse;

    /// The answer to a refused or failed request: the house's wording unless the dialect has
    /// its own.
    fn error_response(err: &ApiError) -> HttpResponse {
        err.error_response()
    }
}

fn put_status(outcome: PutOutcome) -> StatusCode {
    match outcome {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::Replaced => StatusCode::OK,
    }
}

/// `/kvs/<key>`: `replaced` is 0 or 1; errors are worded the house's standard way,
/// `{"msg": "error", "error": ...}`.
pub struct Kvs;

// Structs rather than `json!` keep the fields in the order the API documents.
#[derive(Serialize)]
struct KvsPut {
    replaced: u8,
    msg: &'static str,
}

#[derive(Serialize)]
struct KvsDeleted {
    msg: &'static str,
}

#[derive(Serialize)]
struct KvsFound<'a> {
    msg: &'static str,
    value: &'a str,
}

impl Dialect for Kvs {
    const MAX_KEY_LEN: usize = MAX_KEY_LEN;
    /// The course's later clients send `PUT /kvs` with `key` and `value`, and
    /// `GET /kvs?key=...`, and expect the same answers.
    const KEY_FIELD: bool = true;

    fn put_answer(outcome: PutOutcome) -> HttpResponse {
        HttpResponse::build(put_status(outcome)).json(KvsPut {
            replaced: u8::from(outcome == PutOutcome::Replaced),
            msg: "success",
        })
    }

    fn found(value: &Value) -> HttpResponse {
        HttpResponse::Ok().json(KvsFound {
            msg: "success",
            value: value.as_str(),
        })
    }

    fn deleted() -> HttpResponse {
        HttpResponse::Ok().json(KvsDeleted { msg: "success" })
    }
}

/// `/kv-store/<key>`: `replaced` is "True" or "False", errors are
/// `{"result": "Error", "msg": ...}`, as that dialect's clients expect.
pub struct KvStore;

#[derive(Serialize)]
struct KvStorePut {
    replaced: &'static str,
    msg: &'static str,
}

#[derive(Serialize)]
struct KvStoreResult {
    result: &'static str,
}

#[derive(Serialize)]
struct KvStoreError {
    result: &'static str,
    msg: &'static str,
}

#[derive(Serialize)]
struct KvStoreFound<'a> {
    result: &'static str,
    value: &'a str,
}

impl Dialect for KvStore {
    /// The dialect's clients send a 201-character key and expect it refused.
    const MAX_KEY_LEN: usize = 200;

    fn error_response(err: &ApiError) -> HttpResponse {
        match Self::own_wording(err) {
            Some((status, msg)) => err.respond(
                status,
                KvStoreError {
                    result: "Error",
                    msg,
                },
            ),
            None => err.error_response(),
        }
    }

    fn put_answer(outcome: PutOutcome) -> HttpResponse {
        let body = match outcome {
            PutOutcome::Created => KvStorePut {
                replaced: "False",
                msg: "New key created",
            },
            PutOutcome::Replaced => KvStorePut {
                replaced: "True",
                msg: "Value of existing key replaced",
            },
        };
        HttpResponse::build(put_status(outcome)).json(body)
    }

    fn found(value: &Value) -> HttpResponse {
        HttpResponse::Ok().json(KvStoreFound {
            result: "Success",
            value: value.as_str(),
        })
    }

    fn deleted() -> HttpResponse {
        HttpResponse::Ok().json(KvStoreResult { result: "Success" })
    }
}

impl KvStore {
    /// The dialect's status and text for the key-value API's errors; `None` for the others,
    /// which never arise on `/kv-store` and keep the house wording.
    fn own_wording(err: &ApiError) -> Option<(StatusCode, &'static str)> {
        Some(match err {
            ApiError::Key(KeyError::TooLong | KeyError::NotValid) => {
                (StatusCode::FORBIDDEN, "Key not valid")
            }
            ApiError::Value(ValueError::Empty) => (StatusCode::FORBIDDEN, "No value provided"),
            ApiError::Value(ValueError::TooLarge) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "Value too large")
            }
            ApiError::Client(ClientFault::Malformed) => {
                (StatusCode::BAD_REQUEST, "Malformed request")
            }
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
            ApiError::KeyNotFound => (StatusCode::NOT_FOUND, "Key does not exist"),
            ApiError::Actor(ActorError::StoreFull) => {
                (StatusCode::INSUFFICIENT_STORAGE, "Store is full")
            }
            // The dialect's clients expect 501 when the main is down.
            ApiError::Actor(ActorError::MainUnavailable(_)) => {
                (StatusCode::NOT_IMPLEMENTED, "Server unavailable")
            }
            ApiError::Actor(ActorError::ShuttingDown) => {
                (StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down")
            }
            _ => return None,
        })
    }
}
