//! `/spawn`, `/destroy` and `/listservers`: the server registry.

use actix::Addr;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use switchyard_actors::registry::{DestroyServer, ListServers, ServerRegistry, SpawnServer};

use crate::error::ApiError;
use crate::routes::access::{AdminAccess, MonitorAccess};
use crate::routes::label::RouteLabel;

/// How `/metrics` labels this module's routes.
pub const LABELS: &[RouteLabel] = &[
    RouteLabel::visit("spawn", "/spawn"),
    RouteLabel::visit("destroy", "/destroy"),
    RouteLabel::visit("listservers", "/listservers"),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/spawn", web::post().to(spawn))
        .route("/destroy", web::post().to(destroy))
        .route("/listservers", web::get().to(list));
}

#[derive(Serialize)]
struct ServerUrl {
    url: String,
}

async fn spawn(
    _: AdminAccess,
    registry: web::Data<Addr<ServerRegistry>>,
) -> Result<HttpResponse, ApiError> {
    let url = registry.send(SpawnServer {}).await??;
    Ok(HttpResponse::Created().json(ServerUrl { url }))
}

async fn destroy(
    _: AdminAccess,
    registry: web::Data<Addr<ServerRegistry>>,
) -> Result<HttpResponse, ApiError> {
    let url = registry.send(DestroyServer {}).await??;
    Ok(HttpResponse::Ok().json(ServerUrl { url }))
}

async fn list(
    _: MonitorAccess,
    registry: web::Data<Addr<ServerRegistry>>,
) -> Result<HttpResponse, ApiError> {
    let servers = registry.send(ListServers {}).await??;
    Ok(HttpResponse::Ok().json(servers))
}
