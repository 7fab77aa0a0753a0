//! HTTP pieces the proxy and the binary's routes share.

pub mod headers;
pub mod idle_timeout;
