//! Operations: what lets people run a fleet of switchyard processes.
//!
//! - [`services`]: `ServiceRegistration`, this process in `<prefix>services`, renewed every
//!   heartbeat; deleting it stops the process.
//! - [`metrics`]: `Metrics` measured in the process, `MetricsFlusher` adding them to Redis
//!   hashes, `MetricsScraper` answering `/metrics`.
//! - [`status`]: `StatusReader`, what `/status` and the dashboard show.

pub mod metrics;
pub mod services;
pub mod status;
