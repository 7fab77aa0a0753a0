//! How the registry starts app servers: the binary provides a [`Launcher`] (this crate knows
//! no HTTP server).

use std::future::Future;
use std::io;
use std::pin::Pin;

/// Starts app servers.
pub trait Launcher {
    /// Starts an app server listening on `port`, or says why it cannot (the port is taken).
    fn launch(&self, port: u16) -> io::Result<Box<dyn AppServer>>;
}

/// An app server started by a [`Launcher`].
pub trait AppServer {
    /// Stops accepting connections at once and completes when requests in flight finished.
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()>>>;
}
