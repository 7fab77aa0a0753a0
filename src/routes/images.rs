//! `/upload` and `/meow`: the image queue.

use std::sync::Arc;

use actix::Addr;
use actix_multipart::{Multipart, MultipartError};
use actix_web::http::header::{self, HeaderMap};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use futures_util::StreamExt as _;
use serde::Serialize;
use switchyard_actors::http::headers::content_length;
use switchyard_actors::images::{EnqueueImage, Image, ImageQueue, ImageType, PopImage};
use tokio::sync::Semaphore;

use switchyard_actors::error::ClientFault;

use crate::error::ApiError;

/// What bounds `/upload`: the largest image (`IMAGE_MAX_BYTES`), and the uploads one process
/// reads at once (`UPLOADS_MAX`), each holding up to the largest image in memory.
#[derive(Debug, Clone)]
pub struct UploadLimits {
    pub max_bytes: usize,
    slots: Arc<Semaphore>,
}

impl UploadLimits {
    pub fn new(max_bytes: usize, at_once: usize) -> Self {
        Self {
            max_bytes,
            slots: Arc::new(Semaphore::new(at_once)),
        }
    }
}

/// Room for the multipart framing and small fields around the image.
const FORM_OVERHEAD: usize = 64 * 1024;

const FIELD: &str = "image";

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
    req: HttpRequest,
    form: Multipart,
    limits: web::Data<UploadLimits>,
    queue: web::Data<Addr<ImageQueue>>,
) -> Result<HttpResponse, ApiError> {
    let limit = limits.max_bytes;
    // Held until the image is queued; taken before a byte of the body is read.
    let _slot = Arc::clone(&limits.slots)
        .try_acquire_owned()
        .map_err(|_| ApiError::TooManyUploads)?;
    if content_length::<usize>(req.headers()).is_some_and(|len| len > limit + FORM_OVERHEAD) {
        return Err(ApiError::ImageTooLarge);
    }
    // The declared length (when there is one, and it is within the limit) sizes the buffer at
    // once, so it never grows by doubling to twice the image.
    let expected = content_length::<usize>(req.headers()).map_or(0, |len| len.min(limit));
    let image = read_image(form, limit, expected).await?;
    let queued = queue.send(EnqueueImage { image }).await??;
    Ok(HttpResponse::Created().json(Queued {
        msg: "success",
        queued,
    }))
}

/// Streams the form, counting every byte as it arrives: past `limit` the upload is refused at
/// once, and a file that does not start like an image is refused as soon as its first bytes
/// are in. Only the `image` field is kept, once.
async fn read_image(mut form: Multipart, limit: usize, expected: usize) -> Result<Image, ApiError> {
    let mut image = None;
    let mut received = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        let wanted = field.name() == Some(FIELD);
        if wanted && image.is_some() {
            return Err(ClientFault::Malformed.into());
        }
        let mut bytes = Vec::with_capacity(if wanted { expected } else { 0 });
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            received += chunk.len();
            if received > limit {
                return Err(ApiError::ImageTooLarge);
            }
            if !wanted {
                continue;
            }
            let sniffed_before = bytes.len() >= ImageType::SNIFF_LEN;
            bytes.extend_from_slice(&chunk);
            if !sniffed_before
                && bytes.len() >= ImageType::SNIFF_LEN
                && ImageType::sniff(&bytes).is_none()
            {
                return Err(ApiError::NotAnImage);
            }
        }
        if wanted {
            image = Some(Image::from_bytes(bytes).ok_or(ApiError::NotAnImage)?);
        }
    }
    image.ok_or(ApiError::ImageMissing)
}

fn multipart_error(err: MultipartError) -> ApiError {
    match err {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ApiError::NotMultipart,
        MultipartError::Payload(payload) => ApiError::from(&payload),
        _ => ClientFault::Malformed.into(),
    }
}

async fn meow(
    req: HttpRequest,
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
    if wants_raw_image(req.headers()) {
        return Ok(response.content_type(mime).body(image.bytes));
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>meow</title></head>\n\
         <body><img src=\"data:{mime};base64,{data}\" alt=\"the most recent upload\"></body></html>\n"
    );
    Ok(response.content_type("text/html; charset=utf-8").body(page))
}

/// The raw image for a client that accepts images and not HTML (`Accept: image/*`); the page
/// for everyone else, browsers and `*/*` included.
fn wants_raw_image(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    let mut image = false;
    for range in accept {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|param| {
            param
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        if media == "text/html" {
            return false;
        }
        image |= media.starts_with("image/");
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn raw_image_only_for_image_accepting_non_html_clients() {
        assert!(wants_raw_image(&accepting("image/*")));
        assert!(wants_raw_image(&accepting("image/png, image/jpeg;q=0.8")));
        assert!(!wants_raw_image(&accepting("*/*")));
        assert!(!wants_raw_image(&accepting(
            "text/html,image/webp,*/*;q=0.8"
        )));
        assert!(!wants_raw_image(&accepting("image/*;q=0")));
        assert!(wants_raw_image(&accepting("image/*;q=0.5")));
        assert!(!wants_raw_image(&HeaderMap::new()));
    }
}
