//! `/upload` and `/meow`: the image queue.

mod page;
mod upload;

use actix::Addr;
use actix_web::http::header::{self, Accept};
use actix_web::{web, HttpResponse};
use serde::Serialize;
use switchyard_actors::images::{EnqueueImage, ImageQueue, PopImage};

use crate::error::ApiError;
use crate::routes::label::RouteLabel;
pub use upload::UploadLimits;
use upload::UploadedImage;

/// How `/metrics` labels this module's routes.
pub const LABELS: &[RouteLabel] = &[
    RouteLabel::visit("upload", "/upload"),
    RouteLabel::visit("meow", "/meow"),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/upload", web::post().to(upload))
        .route("/meow", web::get().to(meow));
}

#[derive(Serialize)]
struct Queued {
    msg: &'static str,
    queued: usize,
}

async fn upload(
    uploaded: UploadedImage,
    queue: web::Data<Addr<ImageQueue>>,
) -> Result<HttpResponse, ApiError> {
    let queued = queue
        .send(EnqueueImage {
            image: uploaded.image,
        })
        .await??;
    Ok(HttpResponse::Created().json(Queued {
        msg: "success",
        queued,
    }))
}

async fn meow(
    accept: Option<web::Header<Accept>>,
    queue: web::Data<Addr<ImageQueue>>,
) -> Result<HttpResponse, ApiError> {
    let image = queue
        .send(PopImage {})
        .await??
        .ok_or(ApiError::NoImageQueued)?;
    let mut response = HttpResponse::Ok();
    // Every GET takes an image away: no cache may answer for it.
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    let mime = image.image_type.mime();
    if page::wants_raw_image(accept.as_deref()) {
        return Ok(response.content_type(mime).body(image.bytes));
    }
    Ok(response
        .content_type("text/html; charset=utf-8")
        .body(page::page(mime, &image.bytes)))
}
