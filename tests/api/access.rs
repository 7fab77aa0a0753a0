//! `ADMIN_TOKEN`: the routes that change the fleet need it; `/listservers` does not, unless
//! `MONITOR_TOKEN` is set: then the routes that show the fleet need that token (or the admin
//! token), as a bearer token or Basic's password.

use crate::helpers::{free_ports, unique_prefix, Reply, TestApp, TestRedis};
use awc::http::Method;
use serde_json::json;
use switchyard::config::Config;
use switchyard::routes::access::AccessToken;

const TOKEN: &str = "t0ken-for-the-admin-tests";
const MONITOR: &str = "m0nitor-t0ken-for-the-tests";

fn with_token(config: &mut Config) {
    config.spawn_ports = free_ports(5);
    config.admin_token = AccessToken::new(TOKEN);
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

/// `Basic` credentials for `user` and `password`.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

const MONITORING: [&str; 5] = [
    "/status",
    "/dashboard",
    "/services",
    "/listservers",
    "/metrics",
];

#[actix_rt::test]
async fn with_a_monitor_token_the_routes_that_show_the_fleet_need_it() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("monitor"))
        .config(|config| {
            with_token(config);
            config.monitor_token = AccessToken::new(MONITOR);
        })
        .start();
    let refusals = [
        None,
        Some(format!("Bearer {MONITOR}x")),
        Some(basic("ops", "wrong")),
        Some(basic(MONITOR, "")),
        Some(MONITOR.to_owned()),
    ];
    for path in MONITORING {
        for authorization in &refusals {
            let headers: Vec<(&str, &str)> = authorization
                .iter()
                .map(|value| ("authorization", value.as_str()))
                .collect();
            let reply = app.send(Method::GET, path, &headers, Vec::new()).await;
            assert_eq!(reply.status, 401, "{path} {authorization:?}");
            assert_eq!(
                reply.json(),
                json!({"msg": "error", "error": "monitor token required"})
            );
            let challenges: Vec<&str> = reply
                .headers
                .get_all("www-authenticate")
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(
                challenges,
                [
                    "Bearer",
                    "Basic realm=\"switchyard monitoring\", charset=\"UTF-8\""
                ]
            );
        }
        let accepted = [
            format!("Bearer {MONITOR}"),
            basic("anyone", MONITOR),
            format!("Bearer {TOKEN}"),
        ];
        for authorization in &accepted {
            let headers = [("authorization", authorization.as_str())];
            let reply = app.send(Method::GET, path, &headers, Vec::new()).await;
            assert_eq!(
                reply.status,
                200,
                "{path} {authorization}: {}",
                reply.text()
            );
        }
    }
    // The app routes stay open.
    assert_eq!(app.get("/").await.status, 200);
}

#[actix_rt::test]
async fn without_a_monitor_token_the_routes_that_show_the_fleet_stay_open() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("monitor-open"))
        .config(with_token)
        .start();
    for path in MONITORING {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
}
