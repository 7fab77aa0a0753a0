//! Integration tests: the real server on ports the system picks, real processes for
//! forwarding. One test binary, so the crate is linked once.

// A test stops at the first thing that is not as it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod cache;
mod client_timeouts;
mod command_line;
mod config;
mod consistency;
mod dashboard;
mod deploy;
mod filer;
mod forwarder_link;
mod forwarding;
mod gateway;
mod gateway_tracking;
mod gateway_workers;
mod helpers;
mod images;
mod kv_store;
mod kvs;
mod kvs_fields;
mod metrics;
mod movers;
mod ndeploy_notes;
mod proxy;
mod proxy_hostile;
mod proxy_outages;
mod proxy_slow_clients;
mod rcontrol;
mod recent;
mod redis_outage;
mod registry;
mod render;
mod rquery;
mod rquery_bounds;
mod services;
mod shutdown;
mod store_limit;
mod store_model;
mod topologies;
mod upload_limits;
mod vpush;
