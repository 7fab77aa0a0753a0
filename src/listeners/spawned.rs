//! The app servers `/spawn` starts in this process, each on a port of `SPAWN_PORTS`.

use std::future::Future;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::pin::Pin;

use actix_web::dev::ServerHandle;
use switchyard_actors::registry::{AppServer, Launcher};

use crate::app::AppShared;
use crate::routes::counting::Listener;
use crate::server::serve;

/// Starts the app servers of `/spawn` in this process.
pub struct AppServerLauncher {
    pub shared: AppShared,
    pub ip: IpAddr,
    pub advertise_host: String,
}

impl Launcher for AppServerLauncher {
    fn launch(&self, port: u16) -> io::Result<Box<dyn AppServer>> {
        let listener = TcpListener::bind((self.ip, port))?;
        let shared = self.shared.clone();
        let served_by = format!("{}:{port}", self.advertise_host);
        let settings = shared.serve;
        let server = serve(listener, settings, move || {
            shared.app(&served_by, Listener::Spawned, None)
        })?;
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Ok(Box::new(AppServerHandle(handle)))
    }
}

struct AppServerHandle(ServerHandle);

impl AppServer for AppServerHandle {
    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()>>> {
        Box::pin(self.0.stop(true))
    }
}
