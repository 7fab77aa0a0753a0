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

    /// The channel on which every change to the registry is announced.
    pub fn servers_changed(&self) -> String {
        format!("{}servers:changed", self.prefix)
    }
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
        ];
        for key in all {
            assert!(key.starts_with("p:"), "{key}");
        }
    }
}
