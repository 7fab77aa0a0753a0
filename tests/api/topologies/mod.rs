//! switchyard on Redis as users run it: over TLS, behind sentinels. Each test starts its own
//! servers (helpers/topology.rs) and switchyard as a child process configured by its variables.

mod cluster;
mod roles;
mod sentinel;
mod tls;
