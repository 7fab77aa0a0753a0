//! `/meow`'s answer: the raw image for a client that asks for images, else a page showing it.

use actix_web::http::header::{Accept, Quality};
use base64::Engine as _;

/// The raw image for a client that accepts images and not HTML (`Accept: image/*`); the page
/// for everyone else, browsers and `*/*` included.
pub fn wants_raw_image(accept: Option<&Accept>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let mut image = false;
    for range in accept.iter().filter(|range| range.quality > Quality::ZERO) {
        if range.item == actix_web::mime::TEXT_HTML {
            return false;
        }
        image |= range.item.type_() == actix_web::mime::IMAGE;
    }
    image
}

/// A page showing the image, of type `mime`, inline.
pub fn page(mime: &str, bytes: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>meow</title></head>\n\
         <body><img src=\"data:{mime};base64,{data}\" alt=\"the most recent upload\"></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{Header, HeaderValue, ACCEPT};
    use actix_web::test::TestRequest;

    use super::*;

    fn accepting(value: &str) -> Option<Accept> {
        let req = TestRequest::default()
            .insert_header((ACCEPT, HeaderValue::from_str(value).unwrap()))
            .to_http_request();
        Some(Accept::parse(&req).unwrap())
    }

    #[test]
    fn raw_image_only_for_image_accepting_non_html_clients() {
        assert!(wants_raw_image(accepting("image/*").as_ref()));
        assert!(wants_raw_image(
            accepting("image/png, image/jpeg;q=0.8").as_ref()
        ));
        assert!(!wants_raw_image(accepting("*/*").as_ref()));
        assert!(!wants_raw_image(
            accepting("text/html,image/webp,*/*;q=0.8").as_ref()
        ));
        assert!(!wants_raw_image(accepting("image/*;q=0").as_ref()));
        assert!(wants_raw_image(accepting("image/*;q=0.5").as_ref()));
        assert!(!wants_raw_image(None));
    }
}
