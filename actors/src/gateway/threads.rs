//! [`GatewayThreads`]: the process's gateways, one per HTTP thread, found by the thread index
//! every request id carries.

use std::sync::{Arc, PoisonError, RwLock};

use actix::prelude::*;

use super::front::Gateway;

/// The gateways of the process's threads, by index.
#[derive(Clone, Default)]
pub struct GatewayThreads(Arc<RwLock<Vec<Addr<Gateway>>>>);

impl GatewayThreads {
    /// Starts the calling thread's gateway, made by `make` from the thread's index.
    pub fn start_for_this_thread(&self, make: impl FnOnce(usize) -> Gateway) -> Addr<Gateway> {
        let mut threads = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let gateway = make(threads.len()).start();
        threads.push(gateway.clone());
        gateway
    }

    /// The gateway that sent the request `id` (`<gateway id>-<thread>-<counter>`).
    pub fn of_request(&self, id: &str) -> Option<Addr<Gateway>> {
        let thread: usize = id.split('-').nth(1)?.parse().ok()?;
        let threads = self.0.read().unwrap_or_else(PoisonError::into_inner);
        threads.get(thread).cloned()
    }

    pub fn all(&self) -> Vec<Addr<Gateway>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::front::GatewaySettings;
    use crate::redis::{Redis, RedisConfig};

    #[actix::test]
    async fn a_response_goes_to_the_gateway_of_the_thread_its_request_came_from() {
        let threads = GatewayThreads::default();
        let config = RedisConfig::from_url("redis://127.0.0.1:1", "p:").unwrap();
        let started: Vec<Addr<Gateway>> = (0..2)
            .map(|_| {
                threads.start_for_this_thread(|thread| {
                    let settings = GatewaySettings {
                        timeout: Duration::from_secs(5),
                        queue_max: 10,
                        metrics: crate::ops::metrics::Metrics::new(|_| Duration::from_secs(1)),
                        routes: super::super::routing::RouteTable::only("p:q".into()),
                        tracking: None,
                    };
                    Gateway::new(
                        Redis::new(config.clone()),
                        "g",
                        thread,
                        String::new(),
                        settings,
                    )
                })
            })
            .collect();
        assert!(threads.of_request("g-1-5") == Some(started[1].clone()));
        assert!(threads.of_request("g-0-5") == Some(started[0].clone()));
        assert!(threads.of_request("g-2-5").is_none());
        assert!(threads.of_request("not-an-id").is_none());
    }
}
