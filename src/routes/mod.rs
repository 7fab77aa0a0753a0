//! HTTP translation, one module per concern; each exports `configure`.

pub mod home;
pub mod kvs;
