//! `/metrics` (the Prometheus text format), and the counting of every request by listener,
//! route and status.

use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use switchyard_actors::metrics::{Metrics, MetricsScraper, Scrape};

use crate::error::ApiError;

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

/// Middleware (`from_fn`): counts each answered request under its route (by the path's first
/// segment, from a fixed list; `other` for anything else), so a client cannot make a label of
/// every path it invents. The proxy and the gateway relay every path: one label, `*`.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let listener = req.app_data::<Listener>().copied();
    let route = match listener {
        Some(Listener("proxy" | "gateway")) => "*",
        _ => route_of(req.path()),
    };
    let response = next.call(req).await?;
    if let (Some(metrics), Some(Listener(listener))) = (metrics, listener) {
        metrics.count_request(listener, route, response.status().as_str());
    }
    Ok(response)
}

/// The route a path belongs to, as `/metrics` labels it. Matching the path against the app's
/// routes again (`match_pattern`) would cost more than the request's own routing.
fn route_of(path: &str) -> &'static str {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    match first {
        "" => "/",
        "set" => "/set",
        "get" => "/get",
        "recent" => "/recent",
        "upload" => "/upload",
        "meow" => "/meow",
        "kvs" => "/kvs/{key}",
        "kv-store" => "/kv-store/{key}",
        "rquery" => "/rquery/{command}/{key}",
        "spawn" => "/spawn",
        "destroy" => "/destroy",
        "listservers" => "/listservers",
        "services" => "/services",
        "metrics" => "/metrics",
        "status" => "/status",
        "dashboard" => "/dashboard",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_labelled_by_its_route_and_anything_else_is_other() {
        assert_eq!(route_of("/"), "/");
        assert_eq!(route_of("/kvs/some/key"), "/kvs/{key}");
        assert_eq!(route_of("/services/3/stop"), "/services");
        assert_eq!(route_of("/get"), "/get");
        assert_eq!(route_of("/made-up-by-a-client"), "other");
    }
}
