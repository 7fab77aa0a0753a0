//! The gateway (`GATEWAY_PORT`): every request, whatever its method and path, becomes a
//! message for the workers (docs/gateway.md); their answer comes back as the response. The
//! gateway actor picks the queue by the path; [`messages`] converts both ways.

pub mod messages;

use actix::Addr;
use actix_web::error::PayloadError;
use actix_web::{web, HttpRequest, HttpResponse};
use switchyard_actors::error::ClientFault;
use switchyard_actors::gateway::front::{Gateway, Submit};
use switchyard_actors::http::headers::content_length;

use crate::error::ApiError;
use messages::{ClientResponse, RequestHead};

/// What the gateway's routes on one thread use.
pub struct GatewayFront {
    pub gateway: Addr<Gateway>,
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
    let head = RequestHead::try_from(&req)?;
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
    };
    let response = front.gateway.send(submit).await??;
    Ok(ClientResponse::try_from(response)?.0)
}
