//! `/set` and `/get`: the self-destructing message.

use actix::Addr;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use switchyard_actors::cache::{Cache, GetMessage, SetMessage};

use crate::error::ApiError;
use crate::routes::label::RouteLabel;

/// How `/metrics` labels this module's routes.
pub const LABELS: &[RouteLabel] = &[
    RouteLabel::visit("set", "/set"),
    RouteLabel::visit("get", "/get"),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/set", web::get().to(set))
        .route("/get", web::get().to(get));
}

#[derive(Serialize)]
struct Stored {
    msg: &'static str,
    message: String,
}

async fn set(cache: web::Data<Addr<Cache>>) -> Result<HttpResponse, ApiError> {
    let message = cache.send(SetMessage {}).await??;
    Ok(HttpResponse::Ok().json(Stored {
        msg: "success",
        message,
    }))
}

async fn get(cache: web::Data<Addr<Cache>>) -> Result<HttpResponse, ApiError> {
    match cache.send(GetMessage {}).await?? {
        Some(message) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(message)),
        None => Err(ApiError::NoMessage),
    }
}
