//! The key-value store: keys and values valid by construction, the map every `Store` of a
//! process shares, the `Store` that answers `Put`, `Get` and `Delete` on the main instance, and
//! the `Forwarder` that answers the same messages elsewhere over its link to the main, and the
//! gate that stops the main's writes as it stops.

pub mod forwarder;
mod http_relay;
pub mod keyvalue;
mod link_connection;
pub mod link_frame;
mod link_socket;
mod main_link;
pub mod main_session;
pub mod messages;
mod packed_shard;
mod relaying;
pub mod sharded_map;
pub mod store;
pub mod store_gate;
