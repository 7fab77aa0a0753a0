//! switchyard's actors: each concern of the server is one actix actor with typed messages.
//! The HTTP layer (the `switchyard` binary) only turns requests into these messages.
//!
//! - [`store::Store`]: the in-memory key-value store (`Put`, `Get`, `Delete`).
//! - [`forwarder::Forwarder`]: answers the same messages by relaying them to the main instance.
//! - [`cache::Cache`]: the self-destructing message in Redis (`SetMessage`, `GetMessage`).
//! - [`recent::RecentList`]: the latest visits in Redis (`RecordVisit`, `RecentVisits`).
//! - [`image_queue::ImageQueue`]: uploaded images in Redis, newest first (`EnqueueImage`,
//!   `PopImage`).
//! - [`registry::ServerRegistry`]: spawned app servers and their registry in Redis
//!   (`SpawnServer`, `DestroyServer`, `ListServers`, `DeregisterAll`, `StopSpawned`).
//! - [`proxy`]: the load-balancing proxy: the process's copy of the registry, round-robin
//!   picks (`PickServer`, `ReportFailure`, `ServerRecovered`), and the client that relays.
//!
//! Around them: [`keyvalue`] defines keys and values that are valid by construction,
//! [`sharded_map`] the map every `Store` of a process shares, [`redis`] the Redis connection and
//! key names, [`headers`] header handling for the proxy and the routes, [`idle_timeout`] the
//! cut-off for relayed bodies that stall, [`error`] the actors' one error.

#![forbid(unsafe_code)]

pub mod cache;
pub mod error;
pub mod forwarder;
pub mod headers;
pub mod idle_timeout;
pub mod image_queue;
pub mod keyvalue;
pub mod proxy;
pub mod recent;
pub mod redis;
pub mod registry;
pub mod sharded_map;
pub mod store;

pub use error::ActorError;

/// Mailbox size of the actors that answer every request of a worker thread.
pub(crate) const MAILBOX_CAPACITY: usize = 1024;

/// How long an HTTP client keeps an idle connection to another switchyard. Its servers close
/// idle connections after 5 s (actix-web's default keep-alive); dropping ours sooner keeps a
/// pool from sending a request on a connection the server is closing at that moment.
pub(crate) const IDLE_CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(4);
