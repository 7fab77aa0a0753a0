//! `ADMIN_TOKEN`: the routes that change the fleet need it; `/listservers` does not.

use crate::helpers::{free_ports, unique_prefix, Reply, TestApp, TestRedis};
use awc::http::Method;
use serde_json::json;
use switchyard::config::Config;
use switchyard::routes::admin::AdminToken;

const TOKEN: &str = "t0ken-for-the-admin-tests";

fn with_token(config: &mut Config) {
    config.spawn_ports = free_ports(5);
    config.admin_token = AdminToken::new(TOKEN);
}

async fn post(app: &TestApp, path: &str, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    app.send(Method::POST, path, &headers, Vec::new()).await
}

async fn listed_count(app: &TestApp) -> usize {
    let reply = app.get("/listservers").await;
    assert_eq!(reply.status, 200, "listservers stays open");
    reply.json().as_array().unwrap().len()
}

fn assert_refused(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.header("www-authenticate"), "Bearer");
    assert_eq!(
        reply.json(),
        json!({"msg": "error", "error": "admin token required"})
    );
}

#[actix_rt::test]
async fn spawn_and_destroy_need_the_token_and_change_nothing_without_it() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("admin"))
        .config(with_token)
        .start();
    let good = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {TOKEN}x");
    let refusals = [
        None,
        Some(wrong.as_str()),
        Some("Bearer "),
        Some(TOKEN),
        Some("Basic dDBrZW4="),
    ];

    for authorization in refusals {
        assert_refused(&post(&app, "/spawn", authorization).await);
    }
    assert_eq!(listed_count(&app).await, 0);

    for _ in 0..2 {
        assert_eq!(post(&app, "/spawn", Some(&good)).await.status, 201);
    }
    assert_eq!(listed_count(&app).await, 2);

    for authorization in refusals {
        assert_refused(&post(&app, "/destroy", authorization).await);
    }
    assert_eq!(listed_count(&app).await, 2);
    let lower_case = format!("bearer {TOKEN}");
    assert_eq!(post(&app, "/destroy", Some(&lower_case)).await.status, 200);
    assert_eq!(listed_count(&app).await, 1);
}
