//! [`StoreGate`]: closed when the main begins to stop. The store lives in the process's
//! memory, so a write taken after that would be acknowledged and then lost with the process:
//! from then on the main's `Store`s refuse writes and its forwarders' links close.

use std::sync::Arc;

use tokio::sync::watch;

/// Open until [`StoreGate::close`]; clones share it.
#[derive(Clone, Debug)]
pub struct StoreGate(Arc<watch::Sender<bool>>);

impl Default for StoreGate {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }
}

impl StoreGate {
    /// No more writes: the process is stopping.
    pub fn close(&self) {
        self.0.send_replace(true);
    }

    pub fn is_closed(&self) -> bool {
        *self.0.borrow()
    }

    /// Ends once the gate is closed (at once if it is).
    pub async fn closed(&self) {
        let mut closed = self.0.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = closed.wait_for(|closed| *closed).await;
    }
}
