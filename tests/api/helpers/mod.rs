//! What the integration tests share: the one way to start switchyard ([`TestApp::builder`]),
//! a real redis-server per test ([`TestRedis`]), requests and their answers read whole
//! ([`Reply`]), the servers around the one under test, and polling until a deadline.

mod app;
mod files;
mod fleet;
mod gateway;
mod images;
mod poll;
mod process;
mod redis;
mod reply;
mod topology;

pub use app::TestApp;
pub use files::TempDir;
pub use fleet::{
    answer_every_request, free_ports, raw_backend, refusing_port, register_for_good, spawn,
    until_proxy_knows, until_served, with_proxy,
};
pub use gateway::{gateway_process, play_worker, response_to, worker_process, BASE64};
pub use images::{form, half_an_upload, jpeg, meow_raw, upload, upload_body, BOUNDARY, PNG};
pub use poll::until;
pub use redis::{redis_cli, unique_prefix, TestRedis};
pub use reply::{form_encode, get_raw, raw_request, Reply};
pub use topology::{ClusterSet, SentinelSet, TlsRedis, MASTER_NAME};
