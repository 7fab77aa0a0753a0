//! `IMAGE_QUEUE_MAX` (checked in Redis, across instances) and `UPLOADS_MAX` (per process).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::helpers::{half_an_upload, jpeg, meow_raw, unique_prefix, upload, TestApp, TestRedis};
use futures_util::future::join_all;
use serde_json::json;

async fn upload_jpeg(app: &TestApp, tag: impl AsRef<str>) -> u16 {
    let image = jpeg(tag.as_ref());
    upload(app, &[("image", "image/jpeg", &image)]).await.status
}

#[actix_rt::test]
async fn a_full_queue_refuses_uploads_until_meow_takes_one() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("queue-cap");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|c| c.image_queue_max = 3)
        .start();
    for i in 0..3 {
        assert_eq!(upload_jpeg(&app, format!("img{i}")).await, 201);
    }
    let refused = upload(&app, &[("image", "image/jpeg", &jpeg("one too many"))]).await;
    assert_eq!(refused.status, 507);
    assert_eq!(
        refused.json(),
        json!({"msg": "error", "error": "image queue is full"})
    );
    let queue = format!("{prefix}images");
    assert_eq!(redis.cli(&["LLEN", &queue]), "3");
    // The refused image is nowhere: the newest is still the third.
    assert_eq!(meow_raw(&app).await.body, jpeg("img2"));
    assert_eq!(upload_jpeg(&app, "again").await, 201);
    assert_eq!(redis.cli(&["LLEN", &queue]), "3");
}

#[actix_rt::test]
async fn two_instances_uploading_at_once_never_pass_the_cap() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("queue-cap-two");
    let cap = |c: &mut switchyard::config::Config| {
        c.image_queue_max = 5;
        // Ten uploads at once per instance, all read.
        c.uploads_max = 10;
    };
    let first = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(cap)
        .start();
    let second = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(cap)
        .start();
    let clients: Vec<TestApp> = (0..20)
        .map(|i| {
            TestApp::connect(if i % 2 == 0 {
                &first.base
            } else {
                &second.base
            })
        })
        .collect();
    let statuses = join_all(
        clients
            .iter()
            .enumerate()
            .map(|(i, client)| upload_jpeg(client, format!("c{i}"))),
    )
    .await;
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 5);
    assert_eq!(statuses.iter().filter(|&&s| s == 507).count(), 15);
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}images")]), "5");
}

#[actix_rt::test]
async fn past_uploads_max_an_upload_is_refused_before_its_body_is_read() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("uploads-max");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|c| c.uploads_max = 2)
        .start();
    let (mut one, rest_one) = half_an_upload(&app.base);
    let (mut two, rest_two) = half_an_upload(&app.base);

    // Until both stalled uploads hold their slots, a probe gets a slot: it is no image, so it
    // is refused with 415 and queues nothing either way.
    let deadline = Instant::now() + Duration::from_secs(5);
    let probe = [("image", "image/jpeg", &b"no image at all"[..])];
    while upload(&app, &probe).await.status != 503 {
        assert!(Instant::now() < deadline, "never refused");
    }
    let refused = upload(&app, &[("image", "image/jpeg", &jpeg("third"))]).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), "1");
    assert_eq!(
        refused.json(),
        json!({"msg": "error", "error": "too many uploads in progress: try again shortly"})
    );

    // A slot freed is a slot taken again.
    one.write_all(&rest_one).unwrap();
    let mut answer = String::new();
    let _ = one.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(upload_jpeg(&app, "fourth").await, 201);
    two.write_all(&rest_two).unwrap();
    let mut answer = String::new();
    let _ = two.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    // The first, the fourth and the second; never the refused one.
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}images")]), "3");
}
