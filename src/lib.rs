//! switchyard: a small infrastructure server. This crate is the HTTP side: configuration,
//! start-up and the translation of requests into the actors' messages
//! (crate `switchyard-actors`).

#![forbid(unsafe_code)]

pub mod config;
pub mod deploy_command;
pub mod error;
pub mod gateway;
pub mod pool;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod startup;
