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
    fn named_keys(&self) -> impl Iterator<Item = &str> {
        let single = [
            Some(&self.gateway_queue),
            self.rquery_queue.as_ref(),
            self.router_in.as_ref(),
            self.filer_queue.as_ref(),
            self.render_queue.as_ref(),
            self.ndeploy_queue.as_ref(),
            self.lpush_in.as_ref(),
            self.lpush_out.as_ref(),
            self.mpush_in.as_ref(),
            self.mbalance_in.as_ref(),
            self.vpush.as_ref().map(|vpush| &vpush.input),
        ];
        let many = [
            Some(&self.worker_queues),
            self.mpush_out.as_ref(),
            self.mbalance_out.as_ref(),
        ];
        single
            .into_iter()
            .flatten()
            .chain(many.into_iter().flatten().flatten())
            .map(String::as_str)
            .chain(self.gateway_routes.queues())
    }
}
