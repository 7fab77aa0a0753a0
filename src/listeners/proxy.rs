//! The load-balancing proxy (`PROXY_PORT`): every request to the next registered server.

use std::io;
use std::net::{SocketAddr, TcpListener};

use actix::Actor;
use actix_web::dev::Server;
use actix_web::web;
use switchyard_actors::proxy::balancer::{LoadBalancer, Rotation};
use switchyard_actors::proxy::client::ProxyClient;
use switchyard_actors::proxy::server_list::{ServerList, ServerListWatcher};

use crate::app::{listener_app, AppShared};
use crate::config::Config;
use crate::routes;
use crate::routes::counting::Listener;
use crate::server::serve;

/// The proxy on `listener`, its copy of the registry kept by a watcher of its own.
pub fn start(
    config: &Config,
    listener: TcpListener,
    shared: &AppShared,
) -> io::Result<(SocketAddr, Server)> {
    let addr = listener.local_addr()?;
    let servers = ServerList::default();
    ServerListWatcher::new(shared.redis().clone(), servers.clone()).start();
    let rotation = Rotation::default();
    let timeout = config.proxy_timeout;
    let metrics = shared.metrics.clone();
    let server = serve(listener, shared.serve, move || {
        let balancer = LoadBalancer::new(servers.clone(), rotation.clone()).start();
        listener_app(Listener::Proxy, &metrics)
            .app_data(web::Data::new(balancer))
            .app_data(web::Data::new(ProxyClient::new(timeout)))
            .configure(routes::proxy::configure)
    })?;
    Ok((addr, server))
}
