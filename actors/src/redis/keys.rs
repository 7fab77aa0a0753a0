//! [`Keys`]: every Redis key switchyard uses, each under the configured prefix.

use std::sync::Arc;

/// Every Redis key switchyard uses, each under the configured prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Arc<str>,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The cache's self-destructing message (`/set`, `/get`).
    pub fn message(&self) -> String {
        format!("{}message", self.prefix)
    }

    /// The list of recent visits, newest first (`/recent`).
    pub fn recent_visits(&self) -> String {
        format!("{}recent", self.prefix)
    }

    /// The queue of uploaded images, newest first (`/upload`, `/meow`).
    pub fn image_queue(&self) -> String {
        format!("{}images", self.prefix)
    }

    /// The registry of app servers: a sorted set of URLs scored by when they lapse.
    pub fn servers(&self) -> String {
        format!("{}servers", self.prefix)
    }

    /// The declared number of app servers the replica controller keeps.
    pub fn replicas(&self) -> String {
        format!("{}replicas", self.prefix)
    }

    /// The lease of the one instance that controls the replicas.
    pub fn replicas_lease(&self) -> String {
        format!("{}replicas:lease", self.prefix)
    }

    /// The channel on which every change to the registry is announced.
    pub fn servers_changed(&self) -> String {
        format!("{}servers:changed", self.prefix)
    }

    /// A list or hash a variable names (`GATEWAY_QUEUE`, `WORKER_QUEUES`, ...).
    pub fn named(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The list one gateway's responses are pushed onto.
    pub fn gateway_replies(&self, gateway_id: &str) -> String {
        format!("{}gateway:reply:{gateway_id}", self.prefix)
    }

    /// A file `hfiler` keeps for a while, by its path under the root (`static/app.css`).
    pub fn filer(&self, path: &str) -> String {
        format!("{}filer:/{path}", self.prefix)
    }

    /// The metrics of one operation (`gateway`, `worker`, ...), every process's added.
    pub fn metrics(&self, operation: &str) -> String {
        format!("{}metrics:{operation}", self.prefix)
    }

    /// The counter that gives each process its service id.
    pub fn service_seq(&self) -> String {
        format!("{}service:seq", self.prefix)
    }

    /// What every service id's hash key starts with.
    pub fn service_prefix(&self) -> String {
        format!("{}service:", self.prefix)
    }

    /// The registration of service `id`: a hash that lapses unless renewed.
    pub fn service(&self, id: u64) -> String {
        format!("{}service:{id}", self.prefix)
    }

    /// The live service ids, scored by when each lapses.
    pub fn services(&self) -> String {
        format!("{}services", self.prefix)
    }

    /// The counter that gives each deployment request its id.
    pub fn ndeploy_seq(&self) -> String {
        format!("{}ndeploy:seq", self.prefix)
    }

    /// What every deployment request's key starts with.
    pub fn ndeploy_requests(&self) -> String {
        format!("{}ndeploy:req:", self.prefix)
    }

    /// Deployment `id`'s request: a hash (`git`, `branch`, `commit`).
    pub fn ndeploy_request(&self, id: u64) -> String {
        format!("{}{id}", self.ndeploy_requests())
    }

    /// Deployment `id`'s result: a hash (`deployDir`, `cloned`, ... or `error`).
    pub fn ndeploy_result(&self, id: u64) -> String {
        format!("{}ndeploy:res:{id}", self.prefix)
    }

    /// The gateway workers' registrations: a sorted set of worker ids scored by when they
    /// lapse.
    pub fn workers(&self) -> String {
        format!("{}workers", self.prefix)
    }
}

/// What worker `worker_id` has taken from `queue` (a full key) and not yet answered.
pub fn busy_list(queue: &str, worker_id: &str) -> String {
    format!("{queue}:busy:{worker_id}")
}

/// A `SCAN MATCH` pattern for every busy list of `queue` (a full key), its glob characters
/// escaped.
pub fn busy_lists_pattern(queue: &str) -> String {
    let mut pattern = String::with_capacity(queue.len() + 8);
    for c in queue.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(":busy:*");
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_prefix() {
        let keys = Keys::new("p:");
        let all = [
            keys.message(),
            keys.recent_visits(),
            keys.image_queue(),
            keys.servers(),
            keys.servers_changed(),
            keys.named("q"),
            keys.gateway_replies("g"),
            keys.workers(),
        ];
        for key in all {
            assert!(key.starts_with("p:"), "{key}");
        }
    }

    #[test]
    fn a_busy_list_pattern_matches_only_that_queue_s_busy_lists() {
        assert_eq!(busy_list("p:q", "w-1"), "p:q:busy:w-1");
        assert_eq!(busy_lists_pattern("p:a*[b]"), "p:a\\*\\[b\\]:busy:*");
    }
}
