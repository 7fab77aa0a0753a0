//! The proxy when servers go away, fail, or Redis does: no request a working server could
//! answer is lost.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use awc::http::Method;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{
    free_ports, register_for_good, spawn, unique_prefix, until, until_proxy_knows, with_proxy,
    TestApp, TestRedis,
};

#[actix_rt::test]
async fn destroying_a_server_under_load_fails_no_request() {
    let redis = TestRedis::start();
    let app = TestApp::builder()
        .redis(&redis.url(), &unique_prefix("drain"))
        .config(with_proxy)
        .start();
    for _ in 0..3 {
        spawn(&app).await;
    }
    let proxy_base = app.proxy_base.clone().unwrap();
    until_proxy_knows(&app.proxy(), 3).await;

    let stop_at = Instant::now() + Duration::from_millis(1500);
    let clients = (0..4).map(|_| {
        let client = TestApp::connect(&proxy_base);
        async move {
            let mut seen = Vec::new();
            while Instant::now() < stop_at {
                let started = Instant::now();
                let reply = client.get("/").await;
                seen.push((started, reply.status, reply.served_by));
            }
            seen
        }
    });
    let destroy = async {
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        let reply = app.request(Method::POST, "/destroy", None).await;
        assert_eq!(reply.status, 200);
        (
            Instant::now(),
            reply.json()["url"].as_str().unwrap().to_owned(),
        )
    };
    let (seen, (destroyed_at, destroyed)) = futures_util::join!(join_all(clients), destroy);
    let seen: Vec<_> = seen.into_iter().flatten().collect();
    assert!(seen.len() > 20, "only {} requests", seen.len());
    assert!(
        seen.iter().all(|(_, status, _)| *status == 200),
        "a request failed"
    );
    let destroyed_host = destroyed.trim_start_matches("http://");
    let late = seen
        .iter()
        .filter(|(started, _, by)| *started > destroyed_at && by == destroyed_host)
        .count();
    assert_eq!(
        late, 0,
        "{destroyed} served requests after destroy answered"
    );
    let port = destroyed.rsplit(':').next().unwrap();
    assert!(TcpStream::connect(format!("127.0.0.1:{port}")).is_err());
}

#[actix_rt::test]
async fn a_killed_server_costs_no_get_and_drops_out_of_the_list() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("killed");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(|config| {
            with_proxy(config);
            config.heartbeat = Duration::from_millis(200);
        })
        .start();
    let survivor = spawn(&app).await;
    // Another instance that registers itself, then dies without a word.
    let port = free_ports(1).start().to_string();
    let url = format!("http://127.0.0.1:{port}");
    let env = [
        ("PORT", port.as_str()),
        ("REGISTER_URL", &url),
        ("HEARTBEAT_MS", "200"),
    ];
    let mut doomed = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&env)
        .start_process();
    let proxy = app.proxy();
    until_proxy_knows(&proxy, 2).await;

    doomed.kill();
    for _ in 0..10 {
        let reply = proxy.get("/").await;
        assert_eq!(reply.status, 200);
        assert_eq!(format!("http://{}", reply.served_by), survivor);
    }
    let what = format!("{url} leaves the list");
    until(Duration::from_millis(1500), &what, || async {
        (app.get("/listservers").await.json() == json!([survivor])).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn no_server_is_503_and_only_failing_servers_are_502() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("empty");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    let proxy = app.proxy();
    // Until the proxy has read the (empty) registry, it answers that it does not know it yet.
    let no_server = json!({"msg": "error", "error": "no server is registered"});
    until(
        Duration::from_secs(2),
        "503 no server is registered",
        || async {
            let reply = proxy.get("/").await;
            (reply.status == 503 && reply.json() == no_server).then_some(())
        },
    )
    .await;

    // A registration whose server is gone: nothing listens on its port.
    let closed = free_ports(1).start().to_string();
    let url = format!("http://127.0.0.1:{closed}");
    register_for_good(&redis, &prefix, &url);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let reply = proxy.get("/").await;
        if reply.status == 502 {
            assert_eq!(
                reply.json(),
                json!({"msg": "error", "error": "no registered server answered"})
            );
            break;
        }
        assert_eq!(reply.status, 503);
        assert!(Instant::now() < deadline, "the proxy never tried {url}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn with_redis_down_the_proxy_serves_from_the_last_list_and_catches_up() {
    let mut redis = TestRedis::start();
    let prefix = unique_prefix("redisdown");
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    spawn(&app).await;
    let proxy = app.proxy();
    until_proxy_knows(&proxy, 1).await;

    redis.stop();
    actix_rt::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(proxy.get("/").await.text(), "hello world");

    // A proxy that never read the list has nothing to go on.
    let late = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .config(with_proxy)
        .start();
    let reply = late.proxy().get("/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json()["error"],
        "the server list is not known yet (redis unavailable)"
    );

    // Redis back, empty: the renewals register the first server again, and both proxies
    // catch up with it and with one spawned now.
    redis.start_again();
    spawn(&app).await;
    until_proxy_knows(&proxy, 2).await;
    until_proxy_knows(&late.proxy(), 2).await;
}
