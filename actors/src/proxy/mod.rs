//! The load-balancing proxy's actors and client.
//!
//! - [`server_list`]: [`ServerListWatcher`](server_list::ServerListWatcher) keeps the
//!   process's copy of the registry, the [`ServerList`](server_list::ServerList), current.
//! - [`balancer`]: [`LoadBalancer`](balancer::LoadBalancer) picks a server per request, round
//!   robin, and pauses the ones that fail.
//! - [`relay`]: [`Relay`](relay::Relay) carries a request to the picked server and back.

pub mod balancer;
pub mod relay;
pub mod server_list;
