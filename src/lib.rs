//! switchyard: a small infrastructure server. This crate is the HTTP side: configuration,
//! start-up and the translation of requests into the actors' messages (crate
//! `switchyard-actors`).
//!
//! - [`cli`]: the command line; [`commands`]: `switchyard deploy`, `ndeploy deploy|pop`.
//! - [`config`]: every variable, read and checked once, and the takers as one list.
//! - [`startup`]: composes the process from the config; [`shutdown`]: the graceful stop.
//! - [`app`]: the per-thread `App`, built once for every listener and for the gateway workers.
//! - [`listeners`]: the main port, the proxy, the gateway and spawned servers, a file each.
//! - [`takers`]: the gateway workers, router, filer, renderer, deployer and movers, started
//!   from the config's takers.
//! - [`routes`]: one module per concern, each turning requests into actor messages.
//! - [`server`]: how every listener is served (client timeouts, connection limits).
//! - [`error`]: the one `ResponseError`, actor errors to status + JSON body.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod listeners;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod takers;
