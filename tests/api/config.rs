//! A bad environment variable stops the program at once, naming the variable.

use std::process::{Command, Stdio};

use crate::helpers::{free_ports, unique_prefix, TestApp, TestRedis};

fn start_with(name: &str, value: &str) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env("IP", "127.0.0.1")
        .env("PORT", "0")
        .env(name, value)
        .stdin(Stdio::null())
        .output()
        .expect("switchyard runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[test]
fn malformed_variables_stop_the_program_with_their_name() {
    let cases = [
        ("MAINIP", "10.0.0.20"),
        ("PORT", "abc"),
        ("IP", "nowhere"),
        ("SPAWN_PORTS", "3099-3001"),
        ("RECENT_SIZE", "18446744073709551615"),
        ("RECENT_SIZE", "1001"),
        ("KVS_MAX_BYTES", "1GB"),
        ("CLIENT_TIMEOUT_MS", "0"),
        ("WORKER_QUEUES", "a,a"),
        ("WORKER_CONCURRENCY", "0"),
        ("GATEWAY_QUEUE", "has space"),
        ("GATEWAY_MAX_BODY", "-1"),
        ("FILER_EXPIRY", "css$=60;js$"),
        ("FILER_GZIP", "maybe"),
    ];
    for (name, value) in cases {
        let (code, stderr) = start_with(name, value);
        assert_eq!(code, Some(2), "{name}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}=\"{value}\" is not valid")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_bad_filer_expiry_rule_stops_the_program_naming_the_rule() {
    let (code, stderr) = start_with("FILER_EXPIRY", "css$=60;(js=60");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("FILER_EXPIRY=\"css$=60;(js=60\" is not valid"),
        "{stderr}"
    );
    assert!(stderr.contains("rule 2 \"(js=60\""), "{stderr}");
}

#[test]
fn a_secret_that_stops_the_program_is_named_and_never_shown() {
    let cases = [
        ("REDIS_URL", "localhost:6379", "it must start with redis://"),
        (
            "REDIS_URL",
            "redis://:hunter2@cache:port",
            "invalid port number",
        ),
        (
            "ADMIN_TOKEN",
            "hunter2 and more",
            "visible ASCII characters",
        ),
        ("MONITOR_TOKEN", "hunter2\tx", "visible ASCII characters"),
    ];
    for (name, value, why) in cases {
        let (code, stderr) = start_with(name, value);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{name} (its value is not shown: it may hold a secret) is not valid"
            )),
            "{stderr}"
        );
        assert!(stderr.contains(why), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(!stderr.contains(value), "{stderr}");
    }
}

#[test]
fn without_an_admin_token_the_warning_names_every_route_it_leaves_open() {
    let app = TestApp::builder().start_process();
    let warnings = app.logged("ADMIN_TOKEN is not set");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    for route in ["POST /spawn", "POST /destroy", "POST /services/<id>/stop"] {
        assert!(warnings[0].contains(route), "{route}: {}", warnings[0]);
    }
}

#[test]
fn a_taken_port_stops_the_program_with_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for name in ["PORT", "PROXY_PORT", "GATEWAY_PORT"] {
        let (code, stderr) = start_with(name, &port);
        assert_eq!(code, Some(1), "{name}: {stderr}");
        let expected = format!("cannot listen on 127.0.0.1:{port}: Address already in use");
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[actix_rt::test]
async fn config_hash_fills_in_what_the_environment_does_not_set() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("config-hash");
    let hash = format!("{prefix}settings");
    let port = free_ports(1).start().to_string();
    // The hash's GATEWAY_QUEUE would send requests where no worker takes them; the
    // environment's wins.
    redis.cli(&[
        "HSET",
        &hash,
        "GATEWAY_PORT",
        &port,
        "WORKER_QUEUES",
        "gateway:req",
    ]);
    redis.cli(&["HSET", &hash, "GATEWAY_QUEUE", "nobody-takes-this"]);
    let _app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[
            ("CONFIG_HASH", "settings"),
            ("GATEWAY_QUEUE", "gateway:req"),
        ])
        .start_process();
    let gateway = TestApp::connect(&format!("http://127.0.0.1:{port}"));
    let reply = gateway.get("/").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "hello world"));
    assert_eq!(
        redis.cli(&["EXISTS", &format!("{prefix}nobody-takes-this")]),
        "0"
    );
}

#[test]
fn a_bad_field_in_the_config_hash_stops_the_program_naming_the_hash_and_the_field() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("config-hash-bad");
    redis.cli(&[
        "HSET",
        &format!("{prefix}settings"),
        "GATEWAY_TIMEOUT_MS",
        "soon",
    ]);
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .envs([
            ("IP", "127.0.0.1"),
            ("PORT", "0"),
            ("CONFIG_HASH", "settings"),
        ])
        .envs([
            ("REDIS_URL", redis.url().as_str()),
            ("REDIS_PREFIX", &prefix),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("switchyard runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected =
        format!("CONFIG_HASH {prefix}settings: field GATEWAY_TIMEOUT_MS=\"soon\" is not valid");
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn an_invalid_route_expression_stops_the_program_naming_it() {
    let (code, stderr) = start_with("GATEWAY_ROUTES", "^/static/=files;^/(api=api");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("GATEWAY_ROUTES=\"^/(api\" is not valid"),
        "{stderr}"
    );
}
