//! The reverse proxy (`PROXY_PORT`): every request, whatever its path, goes to the next
//! registered server; the answer comes back streamed.

use actix::Addr;
use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use switchyard_actors::balancer::{LoadBalancer, ProxiedRequest, Relay};
use switchyard_actors::headers::{content_length, end_to_end};

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(proxy));
}

async fn proxy(
    req: HttpRequest,
    body: web::Payload,
    balancer: web::Data<Addr<LoadBalancer>>,
    relay: web::Data<Relay>,
) -> Result<HttpResponse, ApiError> {
    let request = ProxiedRequest {
        method: req.method().clone(),
        path_and_query: req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned(),
        headers: req.headers().clone(),
        client_ip: req.peer_addr().map(|addr| addr.ip()),
    };
    let answer = relay.forward(&balancer, request, body).await?;

    let head = answer.get_ref();
    let mut response = HttpResponse::build(head.status());
    // The length goes with the body, below.
    for (name, value) in end_to_end(head.headers(), &[header::CONTENT_LENGTH]) {
        response.append_header((name.clone(), value.clone()));
    }
    let length = content_length::<u64>(head.headers());
    Ok(match length {
        Some(length) => response.body(SizedStream::new(length, answer)),
        None => response.streaming(answer),
    })
}
