//! The gateway's messages and HTTP, both ways, in one place: a client's request becomes a
//! request message ([`RequestHead`]), a request message becomes the app's request in a worker
//! ([`AppRequest`]), the app's answer becomes a response message ([`read_answer`]), and a
//! response message becomes the client's response ([`ClientResponse`]).

use actix_http::{Payload, Request};
use actix_web::body::{to_bytes_limited, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri, Version};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use switchyard_actors::error::{ActorError, Cause, ClientFault};
use switchyard_actors::gateway::message::{GatewayRequest, GatewayResponse};
use switchyard_actors::http::headers::{end_to_end, forwarded_for};

use crate::error::ApiError;

/// The largest answer a worker sends back (the largest image `/meow` may hold is
/// `IMAGE_MAX_BYTES`, 10 MiB by default).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// A client's request as the gateway queues it, but for its body.
pub struct RequestHead {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

/// The end-to-end headers as the message carries them, plus `X-Forwarded-For` naming the
/// client; a header value that is not text is refused.
impl TryFrom<&HttpRequest> for RequestHead {
    type Error = ApiError;

    fn try_from(req: &HttpRequest) -> Result<Self, ApiError> {
        let forwarded = HeaderName::from_static("x-forwarded-for");
        let mut headers = Vec::with_capacity(req.headers().len() + 1);
        for (name, value) in end_to_end(req.headers(), std::slice::from_ref(&forwarded)) {
            headers.push(header_pair(name, value).ok_or(ApiError::HeaderNotUtf8)?);
        }
        if let Some(value) = forwarded_for(req.headers(), req.peer_addr().map(|addr| addr.ip())) {
            headers.push(header_pair(&forwarded, &value).ok_or(ApiError::HeaderNotUtf8)?);
        }
        let uri = req.uri();
        Ok(Self {
            method: req.method().as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or("").to_owned(),
            headers,
        })
    }
}

/// A request message as the app reads it, in a worker.
pub struct AppRequest(pub Request);

/// A message the gateway would not have sent is a 400.
impl TryFrom<GatewayRequest> for AppRequest {
    type Error = ApiError;

    fn try_from(request: GatewayRequest) -> Result<Self, ApiError> {
        let malformed = || ApiError::Client(ClientFault::Malformed);
        let method = Method::from_bytes(request.method.as_bytes()).map_err(|_| malformed())?;
        let uri: Uri = request.target().parse().map_err(|_| malformed())?;
        let headers = header_map(&request.headers).map_err(|_| malformed())?;
        let mut http = Request::with_payload(Payload::from(Bytes::from(request.body)));
        let head = http.head_mut();
        head.method = method;
        head.uri = uri;
        head.version = Version::HTTP_11;
        head.headers = headers;
        Ok(Self(http))
    }
}

/// A worker's response as the client gets it.
pub struct ClientResponse(pub HttpResponse);

/// A response the protocol does not allow is the worker's fault: a 502.
impl TryFrom<GatewayResponse> for ClientResponse {
    type Error = ActorError;

    fn try_from(response: GatewayResponse) -> Result<Self, ActorError> {
        let malformed = |what: String| {
            let cause = Cause::described(what).context(format_args!("response {:?}", response.id));
            ActorError::WorkerAnswerMalformed(cause)
        };
        let status = StatusCode::from_u16(response.status)
            .map_err(|_| malformed(format!("status {}", response.status)))?;
        let headers = header_map(&response.headers).map_err(malformed)?;
        let mut answer = HttpResponse::build(status);
        // The length and the framing belong to this connection: set from the body.
        for (name, value) in end_to_end(&headers, &[header::CONTENT_LENGTH]) {
            answer.append_header((name.clone(), value.clone()));
        }
        Ok(Self(answer.body(response.body)))
    }
}

/// The app's status, headers and body, as a response message carries them.
pub type Answer = (StatusCode, Vec<(String, String)>, Vec<u8>);

/// Reads the app's answer whole, up to [`MAX_ANSWER`].
pub async fn read_answer<B: MessageBody>(answer: ServiceResponse<B>) -> Answer {
    let status = answer.status();
    let headers = header_pairs(answer.headers());
    match to_bytes_limited(answer.into_body(), MAX_ANSWER).await {
        Ok(Ok(body)) => (status, headers, body.to_vec()),
        _ => {
            log::error!("an answer of the app could not be read whole (over {MAX_ANSWER} bytes?)");
            (StatusCode::INTERNAL_SERVER_ERROR, Vec::new(), Vec::new())
        }
    }
}

/// The answer `err` makes.
pub fn error_answer(err: &dyn ResponseError) -> Answer {
    let response = err.error_response();
    let status = response.status();
    let headers = header_pairs(response.headers());
    let body = match response.into_body().try_into_bytes() {
        Ok(body) => body.to_vec(),
        Err(_) => Vec::new(),
    };
    (status, headers, body)
}

/// Header pairs as a message carries them, as a map; the error names the first bad one.
fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name =
            HeaderName::try_from(name.as_str()).map_err(|_| format!("header name {name:?}"))?;
        let value =
            HeaderValue::try_from(value.as_str()).map_err(|_| format!("header value {value:?}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// One header as a message carries it; `None` when its value is not text.
fn header_pair(name: &HeaderName, value: &HeaderValue) -> Option<(String, String)> {
    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
}

/// The app's headers as a message carries them (the app writes only visible ASCII).
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| header_pair(name, value))
        .collect()
}
