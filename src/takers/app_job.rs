//! [`AppJob`]: a gateway worker's job, answering each request with switchyard's own app routes
//! called in-process: the request message becomes an `actix_http::Request` handed to the `App`
//! service directly, with no socket in between.

use std::rc::Rc;

use actix_http::{Payload, Request};
use actix_service::Service;
use actix_web::body::{to_bytes_limited, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri, Version};
use actix_web::web::Bytes;
use actix_web::ResponseError;
use futures_util::future::LocalBoxFuture;
use switchyard_actors::gateway::job::{Job, Outcome, REPLY_LIST_LIFETIME_MS};
use switchyard_actors::gateway::message::{GatewayRequest, GatewayResponse};
use switchyard_actors::ops::metrics::{Metrics, Operation};

use crate::error::ApiError;

/// The largest answer a worker sends back (the largest image `/meow` may hold is
/// `IMAGE_MAX_BYTES`, 10 MiB by default).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Answers each request with the app, called in process.
pub struct AppJob<S> {
    app: Rc<S>,
    metrics: Metrics,
}

impl<S> AppJob<S> {
    pub fn new(app: S, metrics: Metrics) -> Self {
        Self {
            app: Rc::new(app),
            metrics,
        }
    }
}

impl<S, B> Job for AppJob<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    fn handle(&self, _raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let app = Rc::clone(&self.app);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let id = request.id.clone();
            let destination = request.reply_to.clone();
            let (status, headers, body) = match to_http_request(request) {
                Ok(http) => match app.call(http).await {
                    Ok(answer) => read_answer(answer).await,
                    Err(err) => error_answer(err.as_response_error()),
                },
                Err(err) => error_answer(&err),
            };
            metrics.record(Operation::Worker, started.elapsed());
            let response = GatewayResponse {
                id,
                status: status.as_u16(),
                headers,
                body,
            };
            Outcome {
                destination,
                // A response of strings, numbers and base64 always serialises.
                message: serde_json::to_vec(&response).unwrap_or_default(),
                expire_ms: Some(REPLY_LIST_LIFETIME_MS),
            }
        })
    }
}

type Answer = (StatusCode, Vec<(String, String)>, Vec<u8>);

/// The request as the app reads it; a message the gateway would not have sent is a 400.
fn to_http_request(request: GatewayRequest) -> Result<Request, ApiError> {
    let method = Method::from_bytes(request.method.as_bytes()).map_err(|_| malformed())?;
    let uri: Uri = request.target().parse().map_err(|_| malformed())?;
    let mut http = Request::with_payload(Payload::from(Bytes::from(request.body)));
    let head = http.head_mut();
    head.method = method;
    head.uri = uri;
    head.version = Version::HTTP_11;
    for (name, value) in &request.headers {
        let name = HeaderName::try_from(name.as_str()).map_err(|_| malformed())?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|_| malformed())?;
        head.headers.append(name, value);
    }
    Ok(http)
}

fn malformed() -> ApiError {
    ApiError::Client(switchyard_actors::error::ClientFault::Malformed)
}

async fn read_answer<B: MessageBody>(answer: ServiceResponse<B>) -> Answer {
    let status = answer.status();
    let headers = as_strings(answer.headers());
    match to_bytes_limited(answer.into_body(), MAX_ANSWER).await {
        Ok(Ok(body)) => (status, headers, body.to_vec()),
        _ => {
            log::error!("an answer of the app could not be read whole (over {MAX_ANSWER} bytes?)");
            (StatusCode::INTERNAL_SERVER_ERROR, Vec::new(), Vec::new())
        }
    }
}

fn error_answer(err: &dyn ResponseError) -> Answer {
    let response = err.error_response();
    let status = response.status();
    let headers = as_strings(response.headers());
    let body = match response.into_body().try_into_bytes() {
        Ok(body) => body.to_vec(),
        Err(_) => Vec::new(),
    };
    (status, headers, body)
}

/// The headers as the response message carries them (the app writes only visible ASCII).
fn as_strings(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.into())))
        .collect()
}
