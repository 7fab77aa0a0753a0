//! The gateway (docs/gateway.md): HTTP requests as Redis messages, answered by workers
//! anywhere and routed back to their clients by id.
//!
//! - [`front::Gateway`] queues each request (`Submit`) and hands it its response; one per HTTP
//!   thread, in [`threads::GatewayThreads`].
//! - [`dispatcher::Dispatcher`] reads the process's reply list and delivers each response.
//! - [`worker::Worker`] takes requests reliably and answers them with a [`job::Job`]; its
//!   heartbeat and the recovery of what dead workers had taken are
//!   [`crate::roster::TakerRoster`]'s.
//! - [`message`]: the request and response messages, as JSON on the lists.
//! - [`routing`]: the queue for a path (`GATEWAY_ROUTES`), and the standalone router's job.
//! - [`tracking`]: the notes' message lifecycle (`MESSAGE_TRACKING`), its monitor and history.

pub mod dispatcher;
pub mod front;
pub mod job;
pub mod message;
mod push;
pub mod routing;
mod scripts;
#[cfg(test)]
pub(crate) mod testing;
pub mod threads;
pub mod tracking;
pub mod worker;
