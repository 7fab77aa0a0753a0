//! HTTP pieces the proxy, the registry and the binary share.

pub mod address;
pub mod headers;
pub mod idle_timeout;
