//! `/metrics`: the Prometheus text format ([`super::counting`] counts the requests).

use actix::Addr;
use actix_web::{web, HttpResponse};
use switchyard_actors::ops::metrics::{MetricsScraper, Scrape};

use crate::error::ApiError;
use crate::routes::access::MonitorAccess;
use crate::routes::label::RouteLabel;

/// How `/metrics` labels its own route: monitoring asks it every few seconds, not a visit.
pub const LABELS: &[RouteLabel] = &[RouteLabel::not_a_visit("metrics", "/metrics")];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn metrics(
    _: MonitorAccess,
    scraper: web::Data<Addr<MetricsScraper>>,
) -> Result<HttpResponse, ApiError> {
    let text = scraper.send(Scrape).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
