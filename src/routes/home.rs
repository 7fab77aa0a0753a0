//! `/`: the app's home page.

use crate::routes::label::RouteLabel;
use actix_web::{web, HttpResponse};

/// How `/metrics` labels this module's routes.
pub const LABELS: &[RouteLabel] = &[RouteLabel::visit("", "/")];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(hello));
}

async fn hello() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("hello world")
}
