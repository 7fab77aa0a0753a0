//! Gateways and workers as child processes on one Redis, and a worker played by the test with
//! plain Redis commands, as a worker in another language would be written.

use std::thread::JoinHandle;

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::app::TestApp;
use super::fleet::free_ports;
use super::redis::{redis_cli, TestRedis};

pub const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A gateway process (no workers of its own) on `redis`, keys under `prefix`.
pub fn gateway_process(redis: &TestRedis, prefix: &str, env: &[(&str, &str)]) -> TestApp {
    let port = free_ports(1).start().to_string();
    TestApp::builder()
        .redis(&redis.url(), prefix)
        .env("GATEWAY_PORT", &port)
        .envs(env)
        .start_process()
}

/// A worker process answering `GATEWAY_QUEUE`'s default queue on `redis`.
pub fn worker_process(redis: &TestRedis, prefix: &str, env: &[(&str, &str)]) -> TestApp {
    TestApp::builder()
        .redis(&redis.url(), prefix)
        .env("WORKER_QUEUES", "gateway:req")
        .envs(env)
        .start_process()
}

/// Takes one request from `queue` (a full key) within 5 s, as a worker would (`BRPOP`), and
/// pushes onto its `reply_to` what `answer` makes of it; joins to the request it took.
pub fn play_worker(
    redis: &TestRedis,
    queue: &str,
    answer: impl FnOnce(&Json) -> Json + Send + 'static,
) -> JoinHandle<Json> {
    let (port, queue) = (redis.port, queue.to_owned());
    std::thread::spawn(move || {
        let popped = redis_cli(port, &["BRPOP", &queue, "5"]);
        let (_, message) = popped
            .split_once('\n')
            .unwrap_or_else(|| panic!("no request on {queue} within 5 s"));
        let request: Json = serde_json::from_str(message).expect("a JSON request");
        let response = answer(&request);
        let reply_to = request["reply_to"].as_str().expect("reply_to");
        redis_cli(port, &["LPUSH", reply_to, &response.to_string()]);
        request
    })
}

/// A response message for `request`.
pub fn response_to(request: &Json, status: u16, headers: Json, body: &[u8]) -> Json {
    json!({
        "id": request["id"],
        "status": status,
        "headers": headers,
        "body": BASE64.encode(body),
    })
}
