//! switchyard's actors: each concern of the server is one actix actor with typed messages.
//! The HTTP layer (the `switchyard` binary) only turns requests into these messages; this
//! crate never depends on actix-web.
//!
//! # The concerns
//!
//! - [`kvs`]: the key-value store. `Store` answers `Put`, `Get` and `Delete` on the main
//!   instance; `Forwarder` answers the same messages by relaying them to the main over a
//!   WebSocket link; `LinkSession` is the main's end of that link.
//! - [`cache`]: `Cache`, the self-destructing message in Redis (`SetMessage`, `GetMessage`).
//! - [`recent`]: `RecentList`, the latest visits in Redis (`RecordVisit`, `RecentVisits`).
//! - [`images`]: `ImageQueue`, uploaded images in Redis, newest first (`EnqueueImage`,
//!   `PopImage`).
//! - [`registry`]: `ServerRegistry`, spawned app servers and their registry in Redis
//!   (`SpawnServer`, `DestroyServer`, `ListServers`, `DeregisterAll`, `StopSpawned`), and
//!   `ReplicaController`, which keeps the declared number of them.
//! - [`proxy`]: the load-balancing proxy: the process's copy of the registry, round-robin
//!   picks (`PickServer`, `ReportFailure`, `ServerRecovered`), and the client that carries a
//!   request to the picked server.
//! - [`gateway`]: HTTP requests as Redis messages: `Gateway` queues them (`Submit`), the
//!   `Dispatcher` brings the answers back, `Worker`s take and answer them with a `Job`, the
//!   router's job sends them on by path.
//! - [`movers`]: lpush, mpush and mbalance (`Mover`), and vpush to another Redis (`Vpush`).
//! - [`web`]: the distributed web server's workers: files (`FilerJob`), pages (`RenderJob`),
//!   read-only queries (`Rquery`), deployments from git (`Deployer`).
//! - [`ops`]: operations: the process's registration and remote stop
//!   (`ServiceRegistration`), its metrics (`Metrics`, `MetricsFlusher`, `MetricsScraper`), and
//!   what `/status` shows (`StatusReader`).
//!
//! # What they are built from
//!
//! - [`run_loop`]: the one loop actor: a `Taker` is a loop body (take, handle, stop),
//!   `TakerActor` runs it and stops it on `StopTaking`. Workers, movers, vpush and the
//!   deployer are takers.
//! - [`roster`]: `TakerRoster`, the takers' registrations and the recovery of what dead ones
//!   held.
//! - [`heartbeat`]: an actor's heartbeat, never two beats at once.
//! - [`redis`]: the one place that opens Redis connections, names keys and holds the shared
//!   scripts' helpers.
//! - [`http`]: the header handling, the `host:port` check and the body timeout the proxy and
//!   the routes share.
//! - [`error`]: the actors' one error, whose texts are the ones clients read.

#![forbid(unsafe_code)]

use actix::{Actor, Context};

pub mod cache;
pub mod error;
pub mod gateway;
pub mod heartbeat;
pub mod http;
pub mod images;
pub mod kvs;
pub mod movers;
pub mod ops;
pub mod proxy;
pub mod recent;
pub mod redis;
pub mod registry;
pub mod roster;
pub mod run_loop;
#[cfg(test)]
pub(crate) mod test_redis;
pub mod web;

pub use error::ActorError;

/// Sizes the mailbox of an actor that answers every request of a worker thread: each open
/// connection may have one request waiting on it, and with actix's default capacity of 16 the
/// rest would park and be woken again.
pub(crate) fn size_mailbox_for_a_worker<A: Actor<Context = Context<A>>>(ctx: &mut Context<A>) {
    const MAILBOX_CAPACITY: usize = 1024;
    ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
}

/// How long an HTTP client keeps an idle connection to another switchyard. Its servers close
/// idle connections after 5 s (actix-web's default keep-alive); dropping ours sooner keeps a
/// pool from sending a request on a connection the server is closing at that moment.
pub(crate) const IDLE_CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(4);

/// A random id of 16 hex digits, for an instance, a gateway or a worker process: two processes
/// never share one.
pub fn random_id() -> String {
    // Without the system's randomness, the clock and the process id still set processes apart.
    let id = getrandom::u64().unwrap_or_else(|_| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new()
            .hash_one((std::process::id(), std::time::SystemTime::now()))
    });
    format!("{id:016x}")
}
