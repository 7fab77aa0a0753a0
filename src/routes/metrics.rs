//! `/metrics` (the Prometheus text format), and the counting of every request by listener,
//! route and status.

use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use switchyard_actors::metrics::{Metrics, MetricsScraper, Scrape};

use crate::error::ApiError;

/// A route's label for a handler that serves a whole scope (whose requests match no pattern):
/// it puts this in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

/// Which listener a request came in on, as `/metrics` labels it.
#[derive(Debug, Clone, Copy)]
pub struct Listener(pub &'static str);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn metrics(scraper: web::Data<Addr<MetricsScraper>>) -> Result<HttpResponse, ApiError> {
    let text = scraper.send(Scrape).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// Middleware (`from_fn`): counts each answered request under its route's pattern (`other`
/// for a path no route matches), so a client cannot make a label of every path it invents.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let listener = req.app_data::<Listener>().copied();
    let response = next.call(req).await?;
    if let (Some(metrics), Some(Listener(listener))) = (metrics, listener) {
        let request = response.request();
        let labelled = request.extensions().get::<RouteLabel>().copied();
        let pattern = request.match_pattern();
        let route = match (labelled, pattern.as_deref()) {
            (Some(RouteLabel(route)), _) => route,
            (None, Some(pattern)) => pattern,
            (None, None) => "other",
        };
        metrics.count_request(listener, route, response.status().as_u16());
    }
    Ok(response)
}
