//! The reverse proxy (`PROXY_PORT`): every request, whatever its path, goes to the next
//! registered server; the answer comes back streamed.

use std::io;

use actix::Addr;
use actix_web::body::SizedStream;
use actix_web::error::PayloadError;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::TryStreamExt as _;
use switchyard_actors::http::headers::{content_length, end_to_end};
use switchyard_actors::ops::metrics::{Metrics, Operation};
use switchyard_actors::proxy::balancer::LoadBalancer;
use switchyard_actors::proxy::client::{ProxiedRequest, ProxyClient};

use crate::error::ApiError;

/// What `OPTIONS *` answers: the methods the proxy relays (each server decides what it allows).
const RELAYED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(proxy));
}

async fn proxy(
    req: HttpRequest,
    body: web::Payload,
    balancer: web::Data<Addr<LoadBalancer>>,
    client: web::Data<ProxyClient>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    // Only a path and query go to a server: an absolute URL, `*` or an authority names no
    // path (appended to a server's URL, `*` sent requests to port 80 of its host).
    let uri = req.uri();
    let path_and_query = match uri.path_and_query() {
        Some(pq) if uri.authority().is_none() && pq.path().starts_with('/') => pq.as_str(),
        _ if req.method() == Method::OPTIONS && uri == "*" => {
            return Ok(HttpResponse::Ok()
                .insert_header((header::ALLOW, RELAYED_METHODS))
                .finish())
        }
        _ => return Err(ApiError::NotOriginForm),
    };
    let request = ProxiedRequest {
        method: req.method().clone(),
        path_and_query: path_and_query.to_owned(),
        headers: req.headers().clone(),
        client_ip: req.peer_addr().map(|addr| addr.ip()),
    };
    let started = std::time::Instant::now();
    let answer = client
        .forward(&balancer, request, body.map_err(as_io))
        .await;
    metrics.record(Operation::Proxy, started.elapsed());
    let answer = answer?;

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

/// The client's body failure as the proxy's client reads it: a stall keeps its `TimedOut` kind.
fn as_io(err: PayloadError) -> io::Error {
    match err {
        PayloadError::Io(err) | PayloadError::Incomplete(Some(err)) => err,
        err => io::Error::other(err.to_string()),
    }
}
