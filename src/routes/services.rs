//! `/services` and `/services/<id>/stop`: the live switchyard processes, and stopping one.

use actix::Addr;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use switchyard_actors::ops::services::{ListServices, ServiceRegistration, StopService};

use crate::error::ApiError;
use crate::routes::access::{AdminAccess, MonitorAccess};
use crate::routes::label::RouteLabel;

/// How `/metrics` labels this module's routes (`/services/<id>/stop` among them).
pub const LABELS: &[RouteLabel] = &[RouteLabel::visit("services", "/services")];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/services", web::get().to(list))
        .route("/services/{id}/stop", web::post().to(stop));
}

async fn list(
    _: MonitorAccess,
    services: web::Data<Addr<ServiceRegistration>>,
) -> Result<HttpResponse, ApiError> {
    let live = services.send(ListServices).await??;
    Ok(HttpResponse::Ok().json(live))
}

#[derive(Serialize)]
struct Stopping {
    msg: &'static str,
    stopping: u64,
}

async fn stop(
    _: AdminAccess,
    id: web::Path<String>,
    services: web::Data<Addr<ServiceRegistration>>,
) -> Result<HttpResponse, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::BadServiceId)?;
    if services.send(StopService { id }).await?? {
        Ok(HttpResponse::Ok().json(Stopping {
            msg: "success",
            stopping: id,
        }))
    } else {
        Err(ApiError::NoSuchService)
    }
}
