//! `/upload` and `/meow` against a real Redis.

use std::collections::HashSet;

use crate::helpers::{
    form, jpeg, meow_raw, unique_prefix, upload, upload_body, TestApp, TestRedis, BOUNDARY, PNG,
};
use futures_util::future::join_all;
use serde_json::json;

struct Setup {
    redis: TestRedis,
    queue_key: String,
    app: TestApp,
}

impl Setup {
    fn new(test: &str, image_max_bytes: usize) -> Self {
        let redis = TestRedis::start();
        let prefix = unique_prefix(test);
        let app = TestApp::builder()
            .redis(&redis.url(), &prefix)
            .config(|config| {
                config.image_max_bytes = image_max_bytes;
            })
            .start();
        Self {
            queue_key: format!("{prefix}images"),
            redis,
            app,
        }
    }

    fn queue_len(&self) -> usize {
        self.redis.cli(&["LLEN", &self.queue_key]).parse().unwrap()
    }
}

#[actix_rt::test]
async fn an_upload_is_queued_and_meow_shows_it_as_a_page() {
    let s = Setup::new("page", 1 << 20);
    let queued = upload(&s.app, &[("image", "image/png", PNG)]).await;
    assert_eq!(queued.status, 201);
    assert_eq!(queued.json(), json!({"msg": "success", "queued": 1}));
    assert_eq!(s.queue_len(), 1);

    let page = s.app.get("/meow").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    let b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
    assert!(
        page.text()
            .contains(&format!("<img src=\"data:image/png;base64,{b64}\"")),
        "{}",
        page.text()
    );
    assert_eq!(s.queue_len(), 0);

    let empty = s.app.get("/meow").await;
    assert_eq!(empty.status, 404);
    assert_eq!(
        empty.json(),
        json!({"msg": "error", "error": "no image in the queue"})
    );
}

#[actix_rt::test]
async fn meow_answers_raw_bytes_of_the_type_the_bytes_show_newest_first() {
    let s = Setup::new("raw", 1 << 20);
    // Declared as PNG, but the bytes are a JPEG: the bytes decide.
    upload(&s.app, &[("image", "image/png", &jpeg("first"))]).await;
    upload(&s.app, &[("image", "application/octet-stream", PNG)]).await;

    let newest = meow_raw(&s.app).await;
    assert_eq!(newest.status, 200);
    assert_eq!(newest.content_type, "image/png");
    assert_eq!(newest.body, PNG);
    let older = meow_raw(&s.app).await;
    assert_eq!(older.content_type, "image/jpeg");
    assert_eq!(older.body, jpeg("first"));
    assert_eq!(meow_raw(&s.app).await.status, 404);
}

#[actix_rt::test]
async fn concurrent_meows_never_get_the_same_image() {
    let s = Setup::new("concurrent", 1 << 20);
    for i in 0..12 {
        let image = jpeg(&format!("image{i}"));
        assert_eq!(
            upload(&s.app, &[("image", "image/jpeg", &image)])
                .await
                .status,
            201
        );
    }
    let takers: Vec<TestApp> = (0..16).map(|_| TestApp::connect(&s.app.base)).collect();
    let replies = join_all(takers.iter().map(meow_raw)).await;
    let taken: Vec<&Vec<u8>> = replies
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| &r.body)
        .collect();
    assert_eq!(taken.len(), 12);
    assert_eq!(
        taken.iter().collect::<HashSet<_>>().len(),
        12,
        "an image was served twice"
    );
    assert_eq!(replies.iter().filter(|r| r.status == 404).count(), 4);
    assert_eq!(s.queue_len(), 0);
}

#[actix_rt::test]
async fn bad_uploads_are_refused_and_queue_nothing() {
    let s = Setup::new("bad", 4096);
    upload(&s.app, &[("image", "image/png", PNG)]).await;

    let missing = upload(&s.app, &[("picture", "image/png", PNG)]).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json()["error"],
        "no image: send the file as the form field \"image\""
    );

    let text = upload(
        &s.app,
        &[("image", "image/png", b"just some text, no image")],
    )
    .await;
    assert_eq!(text.status, 415);
    assert_eq!(
        text.json()["error"],
        "not an image: JPEG, PNG, GIF or WebP expected"
    );

    let large = upload(&s.app, &[("image", "image/jpeg", &jpeg(&"x".repeat(5000)))]).await;
    assert_eq!(large.status, 413);
    assert_eq!(
        large.json(),
        json!({"msg": "error", "error": "image too large"})
    );

    let two = upload(
        &s.app,
        &[("image", "image/png", PNG), ("image", "image/png", PNG)],
    )
    .await;
    assert_eq!(two.status, 400);

    let mut truncated = form(&[("image", "image/png", PNG)]);
    truncated.truncate(truncated.len() - 20);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let cut = upload_body(&s.app, &content_type, truncated).await;
    assert_eq!(cut.status, 400);
    assert_eq!(cut.json()["error"], "malformed request");

    let not_multipart = upload_body(
        &s.app,
        "application/x-www-form-urlencoded",
        b"image=1".to_vec(),
    )
    .await;
    assert_eq!(not_multipart.status, 415);
    assert_eq!(
        not_multipart.json()["error"],
        "expected a multipart/form-data upload"
    );

    assert_eq!(s.queue_len(), 1);
}
