//! Every Redis-backed role, one smoke check each, on each topology: one Redis, TLS, Sentinel,
//! Cluster.
//! One fleet process runs the roles together (rcontrol in one of its own); vpush goes to a
//! plain Redis and back; ndeploy's command queues what the fleet's deployer deploys.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::deploy::{read, text, Repository};
use crate::helpers::{
    free_ports, spawn, unique_prefix, until, upload, ClusterSet, SentinelSet, TempDir, TestApp,
    TestRedis, TlsRedis, PNG,
};

/// A Redis as switchyard is pointed at it, and a way to ask its (current) master.
struct Target<'a> {
    url: String,
    /// Variables the topology needs besides `REDIS_URL` (`REDIS_CA_FILE`).
    env: Vec<(&'static str, String)>,
    cli: Cli<'a>,
}

/// One command to the target's master through redis-cli, its answer trimmed.
type Cli<'a> = Box<dyn Fn(&[&str]) -> String + 'a>;

#[actix_rt::test]
async fn every_role_works_on_one_redis() {
    let redis = TestRedis::start();
    let target = Target {
        url: redis.url(),
        env: Vec::new(),
        cli: Box::new(|args| redis.cli(args)),
    };
    every_role_works(&target, "single").await;
}

#[actix_rt::test]
async fn every_role_works_over_tls() {
    let redis = TlsRedis::start("roles");
    let target = Target {
        url: redis.url(),
        env: vec![("REDIS_CA_FILE", redis.ca_file.clone())],
        cli: Box::new(|args| redis.server.cli(args)),
    };
    every_role_works(&target, "tls").await;
}

#[actix_rt::test]
async fn every_role_works_behind_sentinels() {
    let set = SentinelSet::start("roles");
    let target = Target {
        url: set.url(),
        env: Vec::new(),
        cli: Box::new(|args| set.master().cli(args)),
    };
    every_role_works(&target, "sentinel").await;
}

#[actix_rt::test]
async fn every_role_works_on_a_cluster() {
    let cluster = ClusterSet::start("roles", Duration::from_secs(5));
    let target = Target {
        url: cluster.url(),
        env: Vec::new(),
        cli: Box::new(|args| cluster.cli(args)),
    };
    every_role_works(&target, "cluster").await;
}

/// Starts the fleet on `target` and checks each role in turn; a failure names the role.
async fn every_role_works(target: &Target<'_>, topology: &str) {
    let prefix = unique_prefix(&format!("roles-{topology}"));
    let key = |name: &str| format!("{prefix}{name}");
    let plain = TestRedis::start();
    let site = TempDir::new(&format!("roles-{topology}"));
    let repository = Repository::new(&format!("roles-repo-{topology}"));
    site.write("files/static/app.css", "body { color: teal; }\n");
    site.write(
        "templates/pages/hello.html",
        "Hello {{ get(\"greeting\") }}",
    );
    let [gateway_port, proxy_port] = {
        let ports = free_ports(2);
        [ports.start().to_string(), ports.end().to_string()]
    };
    let plain_url = plain.url();
    let (files, templates) = (site.string("files"), site.string("templates"));
    let deployments = repository.dir.string("deployments");
    let fleet_env = [
        ("REDIS_URL", target.url.as_str()),
        ("REDIS_PREFIX", &prefix),
        ("HEARTBEAT_MS", "200"),
        ("GATEWAY_PORT", &gateway_port),
        ("PROXY_PORT", &proxy_port),
        ("GATEWAY_ROUTES", "^/static/=files;^/pages/=pages"),
        ("WORKER_QUEUES", "gateway:req"),
        ("FILER_QUEUE", "files"),
        ("FILER_ROOT", &files),
        ("RENDER_QUEUE", "pages"),
        ("TEMPLATES_DIR", &templates),
        // Each mover's lists share a hash tag, as a cluster needs.
        ("LPUSH_IN", "{l}in"),
        ("LPUSH_OUT", "{l}out"),
        ("MPUSH_IN", "{m}in"),
        ("MPUSH_OUT", "{m}a,{m}b"),
        ("MBALANCE_IN", "{b}in"),
        ("MBALANCE_OUT", "{b}a,{b}b"),
        ("VPUSH_IN", "{v}in"),
        ("VPUSH_URL", &plain_url),
        ("VPUSH_OUT", "vout"),
        ("NDEPLOY_QUEUE", "deploys"),
        ("NDEPLOY_DIR", &deployments),
        ("NDEPLOY_INSTALL", "echo ok > installed.txt"),
    ];
    let fleet = TestApp::builder()
        .envs(&fleet_env)
        .envs(&as_pairs(&target.env))
        .start_process();
    // rcontrol in a process of its own, under a prefix of its own: its servers are its count.
    let controlled = format!("{prefix}rc:");
    let spawn_ports = free_ports(4);
    let controller = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &target.url),
            ("REDIS_PREFIX", &controlled),
            ("RCONTROL", "true"),
            ("HEARTBEAT_MS", "200"),
            (
                "SPAWN_PORTS",
                &format!("{}-{}", spawn_ports.start(), spawn_ports.end()),
            ),
        ])
        .envs(&as_pairs(&target.env))
        .start_process();
    // vpush the other way: from the plain Redis to the target.
    let back = TestApp::builder()
        .envs(&[
            ("REDIS_URL", &plain_url),
            ("REDIS_PREFIX", &prefix),
            ("VPUSH_IN", "back-in"),
            ("VPUSH_URL", &target.url),
            ("VPUSH_OUT", "back-out"),
        ])
        .envs(&as_pairs(&target.env))
        .start_process();
    let gateway = fleet.gateway();
    let cli = &target.cli;

    // cache
    assert_eq!(fleet.get("/set").await.status, 200, "cache: /set");
    assert_eq!(fleet.get("/get").await.status, 200, "cache: /get");
    assert!(cli(&["GET", &key("message")]).starts_with("this message"));

    // recent visits
    until(Duration::from_secs(5), "recent: /get recorded", || async {
        let visits = fleet.get("/recent").await.json();
        visits
            .as_array()?
            .iter()
            .any(|v| v == "GET /get")
            .then_some(())
    })
    .await;

    // images
    let uploaded = upload(&fleet, &[("image", "image/png", PNG)]).await;
    assert!(uploaded.status < 300, "images: /upload {}", uploaded.text());
    let meow = fleet.get("/meow").await;
    assert_eq!(meow.status, 200, "images: /meow");

    // registry and proxy
    let spawned = spawn(&fleet).await;
    let listed = fleet.get("/listservers").await.json();
    assert!(
        listed.as_array().unwrap().contains(&json!(spawned)),
        "registry: {listed}"
    );
    let proxy = fleet.proxy();
    until(
        Duration::from_secs(5),
        "proxy: a spawned server answers",
        || async { (proxy.get("/").await.status == 200).then_some(()) },
    )
    .await;

    // gateway and its workers
    let hello = gateway.get("/").await;
    assert_eq!(hello.status, 200, "gateway: {}", hello.text());

    // rquery on the public namespace
    cli(&["SET", &key("public:greeting"), "hi"]);
    let queried = fleet.get("/rquery/get/greeting").await;
    assert_eq!(
        (queried.status, queried.json()),
        (200, json!({"msg": "success", "value": "hi"})),
        "rquery"
    );

    // filer and renderer through the gateway
    let file = gateway.get("/static/app.css").await;
    assert_eq!(
        (file.status, file.text().as_str()),
        (200, "body { color: teal; }\n")
    );
    assert!(
        cli(&["EXISTS", &key("filer:/static/app.css")]) == "1",
        "filer keeps it"
    );
    let page = gateway.get("/pages/hello").await;
    assert_eq!(
        (page.status, page.text().as_str()),
        (200, "Hello hi"),
        "renderer"
    );

    // movers
    cli(&["LPUSH", &key("{l}in"), "to-lout"]);
    cli(&["LPUSH", &key("{m}in"), "to-both"]);
    cli(&["LPUSH", &key("{b}in"), "to-one"]);
    until(
        Duration::from_secs(5),
        "movers: every message moved",
        || async {
            let moved = cli(&["LRANGE", &key("{l}out"), "0", "-1"]) == "to-lout"
                && cli(&["LRANGE", &key("{m}a"), "0", "-1"]) == "to-both"
                && cli(&["LRANGE", &key("{m}b"), "0", "-1"]) == "to-both";
            let balanced = [key("{b}a"), key("{b}b")]
                .iter()
                .map(|list| cli(&["LLEN", list]))
                .filter(|length| length == "1")
                .count();
            (moved && balanced == 1).then_some(())
        },
    )
    .await;

    // vpush, there and back
    cli(&["LPUSH", &key("{v}in"), "there"]);
    plain.cli(&["LPUSH", &key("back-in"), "back"]);
    until(Duration::from_secs(5), "vpush: both ways", || async {
        let there = plain.cli(&["LRANGE", &key("vout"), "0", "-1"]) == "there";
        let back = cli(&["LRANGE", &key("back-out"), "0", "-1"]) == "back";
        (there && back).then_some(())
    })
    .await;

    // services and metrics
    let services = until(
        Duration::from_secs(5),
        "services: the fleet listed",
        || async {
            let listed = fleet.get("/services").await.json();
            let list = listed.as_array()?.clone();
            list.iter()
                .any(|service: &Json| service["pid"] == json!(fleet.pid()))
                .then_some(list)
        },
    )
    .await;
    assert!(!services.is_empty());
    until(
        Duration::from_secs(5),
        "metrics: flushed to Redis",
        || async { (cli(&["EXISTS", &key("metrics:gateway")]) == "1").then_some(()) },
    )
    .await;
    let metrics = fleet.get("/metrics").await;
    assert_eq!(metrics.status, 200, "metrics");
    assert!(metrics.text().contains("switchyard_"), "metrics");

    // rcontrol
    cli(&["SET", &format!("{controlled}replicas"), "2"]);
    until(
        Duration::from_secs(10),
        "rcontrol: 2 servers kept",
        || async {
            let listed = controller.get("/listservers").await.json();
            (listed.as_array().map(Vec::len) == Some(2)).then_some(())
        },
    )
    .await;

    // ndeploy: the operator's command queues, the fleet's deployer deploys
    let mut deploy = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    deploy
        .args(["deploy", &repository.url()])
        .env("REDIS_URL", &target.url)
        .env("REDIS_PREFIX", &prefix)
        .env("NDEPLOY_QUEUE", "deploys")
        .env("NDEPLOY_TIMEOUT_S", "20")
        .env("RUST_LOG", "off")
        .envs(target.env.iter().map(|(name, value)| (name, value)));
    let deployed = deploy.output().unwrap();
    assert!(deployed.status.success(), "ndeploy: {deployed:?}");
    let directory = text(&deployed.stdout).lines().last().unwrap().to_owned();
    assert_eq!(read(&directory, "app.txt"), "version 2", "ndeploy");
    assert_eq!(read(&directory, "installed.txt"), "ok\n", "ndeploy");
    drop(back);
}

fn as_pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}
