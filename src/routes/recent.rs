//! `/recent`, and the recording of every other request.

use actix::Addr;
use actix_web::dev::ServiceRequest;
use actix_web::{web, HttpResponse};
use switchyard_actors::kvs::forwarder::RELAYED_HEADER;
use switchyard_actors::recent::{RecentList, RecentVisits, RecordVisit};

use crate::error::ApiError;

const PATH: &str = "/recent";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::get().to(recent));
}

async fn recent(list: web::Data<Addr<RecentList>>) -> Result<HttpResponse, ApiError> {
    let visits = list.send(RecentVisits {}).await??;
    Ok(HttpResponse::Ok().json(visits))
}

/// Paths that are not visits: `/recent` itself, and what monitoring asks every second.
const NOT_VISITS: [&str; 4] = [PATH, "/status", "/dashboard", "/metrics"];

/// Records `req` as `"GET /kvs/foo"`, unless it is no visit ([`NOT_VISITS`]) or a forwarder
/// relayed it (the forwarder recorded it). Fire and forget: the request neither waits for nor
/// fails with the recording.
pub fn record_visit(list: &Addr<RecentList>, req: &ServiceRequest) {
    if !NOT_VISITS.contains(&req.path()) && !req.headers().contains_key(RELAYED_HEADER) {
        list.do_send(RecordVisit {
            visit: format!("{} {}", req.method(), req.path()),
        });
    }
}
