//! [`UploadedImage`]: the image of an `/upload` form, read within the limits: a slot among
//! `UPLOADS_MAX` taken before a byte of the body is read, the body refused past
//! `IMAGE_MAX_BYTES` as it streams, and a file that does not start like an image refused as
//! soon as its first bytes are in.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_multipart::{Multipart, MultipartError};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt as _;
use switchyard_actors::error::ClientFault;
use switchyard_actors::http::headers::content_length;
use switchyard_actors::images::{Image, ImageType};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Room for the multipart framing and small fields around the image.
const FORM_OVERHEAD: usize = 64 * 1024;

/// The form field that holds the image.
const FIELD: &str = "image";

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

/// An image read whole from an upload form, and its upload's slot, held until it is dropped
/// (once the image is queued).
pub struct UploadedImage {
    pub image: Image,
    _slot: OwnedSemaphorePermit,
}

impl FromRequest for UploadedImage {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = req.app_data::<web::Data<UploadLimits>>().cloned();
        let declared = content_length::<usize>(req.headers());
        let form = Multipart::from_request(req, payload);
        Box::pin(async move {
            let Some(limits) = limits else {
                return Err(actix_web::error::ErrorInternalServerError(
                    "upload limits not configured",
                ));
            };
            let form = form.await?;
            let limit = limits.max_bytes;
            // Taken before a byte of the body is read.
            let slot = Arc::clone(&limits.slots)
                .try_acquire_owned()
                .map_err(|_| ApiError::TooManyUploads)?;
            if declared.is_some_and(|len| len > limit + FORM_OVERHEAD) {
                return Err(ApiError::ImageTooLarge.into());
            }
            // The declared length (when there is one, and it is within the limit) sizes the
            // buffer at once, so it never grows by doubling to twice the image.
            let expected = declared.map_or(0, |len| len.min(limit));
            let image = read_image(form, limit, expected).await?;
            Ok(Self { image, _slot: slot })
        })
    }
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
