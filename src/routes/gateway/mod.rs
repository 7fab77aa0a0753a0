//! The gateway (`GATEWAY_PORT`): every request, whatever its method and path, becomes a
//! message for the workers (docs/gateway.md); their answer comes back as the response. The
//! gateway actor picks the queue by the path; [`messages`] converts both ways. The client's
//! `X-Request-Id` is echoed on every answer; with tracking on, one is made when the client sent
//! none (the message's id), and `X-Message-Id` names the message's history.

pub mod messages;

use actix::Addr;
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use switchyard_actors::error::ClientFault;
use switchyard_actors::gateway::front::{Gateway, Submit, Submitted};
use switchyard_actors::gateway::tracking::is_xid;
use switchyard_actors::http::headers::content_length;

use crate::error::ApiError;
use messages::{ClientResponse, RequestHead};

/// What the gateway's routes on one thread use.
pub struct GatewayFront {
    pub gateway: Addr<Gateway>,
    /// `GATEWAY_MAX_BODY`.
    pub max_body: usize,
    /// `MESSAGE_TRACKING`.
    pub tracking: bool,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MESSAGE_ID: HeaderName = HeaderName::from_static("x-message-id");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(relay));
}

async fn relay(
    req: HttpRequest,
    body: web::Payload,
    front: web::Data<GatewayFront>,
) -> HttpResponse {
    let given = req.headers().get(REQUEST_ID).cloned();
    let xid = match (&given, front.tracking) {
        (Some(value), true) => match value.to_str().ok().filter(|xid| is_xid(xid)) {
            Some(xid) => Some(xid.to_owned()),
            None => return ApiError::RequestIdNotValid.error_response(),
        },
        _ => None,
    };
    let Submitted { message_id, answer } = match submit(&req, body, &front, xid).await {
        Ok(submitted) => submitted,
        Err(err) => return with_ids(err.error_response(), given, None),
    };
    let response = answer
        .map_err(ApiError::from)
        .and_then(|response| Ok(ClientResponse::try_from(response)?.0));
    let response = response.unwrap_or_else(|err| err.error_response());
    with_ids(response, given, message_id)
}

/// `response` with the client's `X-Request-Id` echoed, or, for a tracked message whose client
/// sent none, its id as one; and `X-Message-Id` when it was tracked.
fn with_ids(
    mut response: HttpResponse,
    given: Option<HeaderValue>,
    message_id: Option<u64>,
) -> HttpResponse {
    let headers = response.headers_mut();
    let made = message_id.map(HeaderValue::from);
    if let Some(xid) = given.or_else(|| made.clone()) {
        headers.insert(REQUEST_ID, xid);
    }
    if let Some(id) = made {
        headers.insert(MESSAGE_ID, id);
    }
    response
}

/// The request read and submitted to this thread's gateway.
async fn submit(
    req: &HttpRequest,
    body: web::Payload,
    front: &GatewayFront,
    xid: Option<String>,
) -> Result<Submitted, ApiError> {
    // Refused before a byte of the body is read, when its length says so.
    if content_length::<u64>(req.headers()).is_some_and(|n| n > front.max_body as u64) {
        return Err(ApiError::BodyTooLarge);
    }
    let head = RequestHead::try_from(req)?;
    let body = match body.to_bytes_limited(front.max_body).await {
        Ok(Ok(body)) => body,
        Ok(Err(err)) => {
            return Err(err
                .as_error::<PayloadError>()
                .map_or(ApiError::Client(ClientFault::Malformed), ApiError::from))
        }
        Err(_) => return Err(ApiError::BodyTooLarge),
    };
    let submit = Submit {
        method: head.method,
        path: head.path,
        query: head.query,
        headers: head.headers,
        body: body.to_vec(),
        xid,
    };
    Ok(front.gateway.send(submit).await?)
}
