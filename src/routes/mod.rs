//! HTTP translation, one module per concern; each exports `configure`.

pub mod access;
pub mod cache;
pub mod dashboard;
pub mod gateway;
pub mod home;
pub mod images;
pub mod kvs;
pub mod metrics;
pub mod proxy;
pub mod recent;
pub mod registry;
pub mod rquery;
pub mod services;
