//! The gateway (`GATEWAY_PORT`): every request, whatever its method and path, becomes a
//! message for the workers (docs/gateway.md); their answer comes back as the response.

use actix::Addr;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use switchyard_actors::error::{ActorError, Cause, ClientFault};
use switchyard_actors::gateway::front::{Gateway, Submit};
use switchyard_actors::gateway::message::GatewayResponse;
use switchyard_actors::gateway::routing::RouteTable;
use switchyard_actors::http::headers::{content_length, end_to_end, forwarded_for};

use crate::error::ApiError;

/// What the gateway's routes on one thread use.
pub struct GatewayFront {
    pub gateway: Addr<Gateway>,
    pub routes: RouteTable,
    /// `GATEWAY_MAX_BODY`.
    pub max_body: usize,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(relay));
}

async fn relay(
    req: HttpRequest,
    body: web::Payload,
    front: web::Data<GatewayFront>,
) -> Result<HttpResponse, ApiError> {
    // Refused before a byte of the body is read, when its length says so.
    if content_length::<u64>(req.headers()).is_some_and(|n| n > front.max_body as u64) {
        return Err(ApiError::BodyTooLarge);
    }
    let mut headers = Vec::with_capacity(req.headers().len() + 1);
    let forwarded = HeaderName::from_static("x-forwarded-for");
    for (name, value) in end_to_end(req.headers(), std::slice::from_ref(&forwarded)) {
        let value = value.to_str().map_err(|_| ApiError::HeaderNotUtf8)?;
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    if let Some(value) = forwarded_for(req.headers(), req.peer_addr().map(|addr| addr.ip())) {
        let value = value.to_str().map_err(|_| ApiError::HeaderNotUtf8)?;
        headers.push((forwarded.as_str().to_owned(), value.to_owned()));
    }
    let body = match body.to_bytes_limited(front.max_body).await {
        Ok(Ok(body)) => body,
        Ok(Err(err)) => {
            return Err(err
                .as_error::<PayloadError>()
                .map_or(ApiError::Client(ClientFault::Malformed), ApiError::from))
        }
        Err(_) => return Err(ApiError::BodyTooLarge),
    };
    let uri = req.uri();
    let submit = Submit {
        queue: front.routes.queue_for(uri.path()).to_owned(),
        method: req.method().as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body: body.to_vec(),
    };
    let response = front.gateway.send(submit).await??;
    Ok(to_http(response)?)
}

/// A worker's response as the client's; one the protocol does not allow is a 502.
fn to_http(response: GatewayResponse) -> Result<HttpResponse, ActorError> {
    let malformed = |what: String| {
        let cause = Cause::described(what).context(format_args!("response {:?}", response.id));
        ActorError::WorkerAnswerMalformed(cause)
    };
    let status = StatusCode::from_u16(response.status)
        .map_err(|_| malformed(format!("status {}", response.status)))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &response.headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| malformed(format!("header name {name:?}")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| malformed(format!("header value {value:?}")))?;
        headers.append(name, value);
    }
    let mut answer = HttpResponse::build(status);
    // The length and the framing belong to this connection: set from the body.
    for (name, value) in end_to_end(&headers, &[header::CONTENT_LENGTH]) {
        answer.append_header((name.clone(), value.clone()));
    }
    Ok(answer.body(response.body))
}
