//! `HttpRelay`: a forwarder's requests as plain HTTP requests to the main's `/kvs` API, one
//! request per client request: what forwarders did before the link, and what they fall back to
//! when the main does not speak it (a main from before it).

use std::rc::Rc;

use awc::http::{Method, StatusCode};
use awc::Client;
use serde::Deserialize;

use super::keyvalue::{Value, MAX_VALUE_BYTES};
use super::link_frame::{LinkAnswer, LinkRequest};
use super::messages::PutOutcome;
use super::relaying::{unavailable, FORWARDER_NAMED};
use crate::error::ActorError;

/// A GET answer carries the value JSON-escaped: a control character becomes six bytes.
const MAX_ANSWER_BYTES: usize = 6 * MAX_VALUE_BYTES + 1024;

/// The part of the main's GET answer the forwarder needs.
#[derive(Deserialize)]
struct FoundBody {
    value: String,
}

/// `awc::Client` is not `Send`: one per worker thread, with its own pool of keep-alive
/// connections. Cloning shares it.
#[derive(Clone)]
pub struct HttpRelay {
    client: Client,
    kvs_url: Rc<str>,
}

impl HttpRelay {
    /// `client` carries the relayed-request header (`MainLink::client`).
    pub fn new(client: Client, main: &str) -> Self {
        Self {
            client,
            kvs_url: format!("http://{main}/kvs/").into(),
        }
    }

    /// One request and its whole answer; the caller bounds the time.
    pub async fn relay(&self, request: LinkRequest) -> Result<LinkAnswer, ActorError> {
        let (method, key) = match &request {
            LinkRequest::Get(key) => (Method::GET, key),
            LinkRequest::Put(key, _) => (Method::PUT, key),
            LinkRequest::Delete(key) => (Method::DELETE, key),
        };
        let http = self
            .client
            .request(method, format!("{}{}", self.kvs_url, key));
        let sent = match &request {
            LinkRequest::Put(_, value) => http.send_form(&[("val", value.as_str())]),
            _ => http.send(),
        };
        let mut response = sent.await.map_err(unavailable)?;
        let status = response.status();
        if status == StatusCode::LOOP_DETECTED {
            return Err(unavailable(FORWARDER_NAMED));
        }
        let body = response
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map_err(unavailable)?;
        let answer = match (&request, status) {
            (LinkRequest::Get(_), StatusCode::OK) => {
                let found: FoundBody = serde_json::from_slice(&body)
                    .map_err(|e| unavailable(format_args!("main's answer: {e}")))?;
                let value = Value::new(&found.value)
                    .map_err(|e| unavailable(format_args!("main's value refused: {e}")))?;
                LinkAnswer::Found(value)
            }
            (LinkRequest::Get(_) | LinkRequest::Delete(_), StatusCode::NOT_FOUND) => {
                LinkAnswer::NotFound
            }
            (LinkRequest::Put(..), StatusCode::CREATED) => LinkAnswer::Put(PutOutcome::Created),
            (LinkRequest::Put(..), StatusCode::OK) => LinkAnswer::Put(PutOutcome::Replaced),
            (LinkRequest::Put(..), StatusCode::INSUFFICIENT_STORAGE) => LinkAnswer::StoreFull,
            (LinkRequest::Delete(_), StatusCode::OK) => LinkAnswer::Deleted,
            _ => return Err(unavailable(format_args!("main answered status {status}"))),
        };
        Ok(answer)
    }
}
