//! `/recent`: the latest visits ([`super::visits`] records them).

use actix::Addr;
use actix_web::{web, HttpResponse};
use switchyard_actors::recent::{RecentList, RecentVisits};

use crate::error::ApiError;
use crate::routes::label::RouteLabel;

const PATH: &str = "/recent";

/// How `/metrics` labels this module's routes: reading the visits is not one.
pub const LABELS: &[RouteLabel] = &[RouteLabel::not_a_visit("recent", PATH)];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(recent));
}

async fn recent(list: web::Data<Addr<RecentList>>) -> Result<HttpResponse, ApiError> {
    let visits = list.send(RecentVisits {}).await??;
    Ok(HttpResponse::Ok().json(visits))
}
