//! The load-balancing proxy's actors and client.
//!
//! - [`server_list`]: [`ServerListWatcher`](server_list::ServerListWatcher) keeps the
//!   process's copy of the registry, the [`ServerList`](server_list::ServerList), current.
//! - [`balancer`]: [`LoadBalancer`](balancer::LoadBalancer) picks a server per request, round
//!   robin, and pauses the ones that fail.
//! - [`client`]: [`ProxyClient`](client::ProxyClient) carries a request to the picked server
//!   and back.

pub mod balancer;
pub mod client;
pub mod server_list;
