//! The gateway (docs/gateway.md): HTTP requests as Redis messages, answered by workers
//! anywhere and routed back to their clients by id.
//!
//! - [`front::Gateway`] queues each request (`Submit`) and hands it its response; one per HTTP
//!   thread, in [`threads::GatewayThreads`].
//! - [`dispatcher::Dispatcher`] reads the process's reply list and delivers each response.
//! - [`worker::Worker`] takes requests reliably and answers them with a [`worker::Job`].
//! - [`registry::WorkerRegistry`]: the workers' heartbeat, and the recovery of what dead
//!   workers had taken.
//! - [`routes`]: the queue for a path (`GATEWAY_ROUTES`), and the standalone router's job.

pub mod dispatcher;
pub mod front;
pub mod message;
pub mod registry;
pub mod routes;
mod scripts;
pub mod threads;
pub mod worker;
