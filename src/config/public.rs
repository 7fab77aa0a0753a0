//! `PUBLIC_NAMESPACE`: the keys clients may read must share none with switchyard's own, nor
//! with any list or hash the variables name.

use switchyard_actors::redis::namespace_overlap;

use super::{Config, ConfigError};

impl Config {
    /// Refuses a public namespace that could hold one of switchyard's own keys, a list the
    /// variables name, or `config_hash` (`CONFIG_HASH`, where the admin token may be).
    pub(super) fn check_public_namespace(
        &self,
        config_hash: Option<&str>,
    ) -> Result<(), ConfigError> {
        // A blank CONFIG_HASH names no hash.
        let config_hash = config_hash.map(str::trim).filter(|name| !name.is_empty());
        let named = self.named_keys().chain(config_hash);
        match namespace_overlap(&self.public_namespace, named) {
            None => Ok(()),
            Some(own) => Err(ConfigError::new(
                "PUBLIC_NAMESPACE",
                self.public_namespace.clone(),
                format!(
                    "a namespace apart from switchyard's own keys; this one shares {own:?}, \
                     e.g. keep the default, public:"
                )
                .into(),
            )),
        }
    }

    /// Every list and hash the variables name (without the prefix): queues, a mover's lists,
    /// the routes' queues. Keys under the public namespace must be none of these.
    pub(super) fn named_keys(&self) -> impl Iterator<Item = &str> {
        let takers = self.takers.iter().flat_map(|taker| {
            taker
                .lists()
                .into_iter()
                .map(|named| named.list)
                .collect::<Vec<_>>()
        });
        std::iter::once(self.gateway_queue.as_str())
            .chain(takers)
            .chain(self.gateway_routes.queues())
    }
}
