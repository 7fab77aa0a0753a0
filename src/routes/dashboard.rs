//! `/dashboard`, one self-contained page (nothing loaded from elsewhere: deployments may be
//! offline) that shows `/status`, refreshed every second.

use actix::Addr;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use switchyard_actors::ops::status::{ReadStatus, StatusReader};

use crate::error::ApiError;
use crate::routes::access::MonitorAccess;
use crate::routes::label::RouteLabel;

const PAGE: &str = include_str!("dashboard.html");

/// How `/metrics` labels this module's routes: monitoring asks them every second, not visits.
pub const LABELS: &[RouteLabel] = &[
    RouteLabel::not_a_visit("dashboard", "/dashboard"),
    RouteLabel::not_a_visit("status", "/status"),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard))
        .route("/status", web::get().to(status));
}

async fn dashboard(_: MonitorAccess) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The page runs its own script and loads nothing else.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self'",
        ))
        .body(PAGE)
}

async fn status(
    _: MonitorAccess,
    reader: web::Data<Addr<StatusReader>>,
) -> Result<HttpResponse, ApiError> {
    let status = reader.send(ReadStatus).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(status))
}
