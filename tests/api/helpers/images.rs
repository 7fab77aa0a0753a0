//! Images and multipart uploads for `/upload` and `/meow`.

use awc::http::Method;

use super::app::TestApp;
use super::reply::{raw_request, Reply};

pub const BOUNDARY: &str = "switchyard-test-boundary";

/// A 1x1 PNG.
pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\
\0\0\0\rIDATx\xdac\xfc\xff\x9f\xa1\x1e\0\x07\x82\x02\x7f=\xc8H\xef\0\0\0\0IEND\xaeB`\x82";

/// A JPEG's first bytes, then `tag`, so each test image is distinct.
pub fn jpeg(tag: &str) -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

/// A multipart/form-data body with the files given as (field name, declared type, bytes).
pub fn form(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, declared, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"upload\"\r\nContent-Type: {declared}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub async fn upload_body(app: &TestApp, content_type: &str, body: Vec<u8>) -> Reply {
    app.send(
        Method::POST,
        "/upload",
        &[("content-type", content_type)],
        body,
    )
    .await
}

pub async fn upload(app: &TestApp, files: &[(&str, &str, &[u8])]) -> Reply {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    upload_body(app, &content_type, form(files)).await
}

/// An upload to `base` of which half the body is sent; the other half is returned.
pub fn half_an_upload(base: &str) -> (std::net::TcpStream, Vec<u8>) {
    let mut body = form(&[("image", "image/jpeg", &jpeg(base))]);
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: switchyard\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let rest = body.split_off(body.len() / 2);
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    (raw_request(base, &request), rest)
}

pub async fn meow_raw(app: &TestApp) -> Reply {
    app.send(Method::GET, "/meow", &[("accept", "image/*")], Vec::new())
        .await
}
