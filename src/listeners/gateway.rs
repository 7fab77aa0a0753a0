//! The gateway (`GATEWAY_PORT`, docs/gateway.md): its listener, a `Gateway` per HTTP thread
//! and the process's dispatcher. Its workers are started with the other takers
//! ([`crate::takers`]).

use std::net::{SocketAddr, TcpListener};

use actix::Actor;
use actix_web::dev::Server;
use actix_web::web;
use switchyard_actors::gateway::dispatcher::Dispatcher;
use switchyard_actors::gateway::front::{Gateway, GatewaySettings};
use switchyard_actors::gateway::routing::RouteTable;
use switchyard_actors::gateway::threads::GatewayThreads;
use switchyard_actors::gateway::tracking::monitor::MessageMonitor;
use switchyard_actors::gateway::tracking::Tracking;
use switchyard_actors::random_id;
use switchyard_actors::redis::Redis;

use crate::app::{listener_app, AppShared};
use crate::config::Config;
use crate::routes;
use crate::routes::counting::Listener;
use crate::routes::gateway::GatewayFront;
use crate::server::serve;

/// The gateway on `listener`: its requests queued by `GATEWAY_ROUTES`, answered through the
/// process's dispatcher.
pub fn start(
    config: &Config,
    listener: TcpListener,
    shared: &AppShared,
) -> std::io::Result<(SocketAddr, Server)> {
    let addr = listener.local_addr()?;
    let keys = shared.redis().keys().clone();
    let gateway_id = random_id();
    let reply_to = keys.gateway_replies(&gateway_id);
    let settings = GatewaySettings {
        timeout: config.gateway_timeout,
        queue_max: config.gateway_queue_max,
        metrics: shared.metrics.clone(),
        routes: RouteTable::new(
            &config.gateway_routes,
            &keys,
            keys.named(&config.gateway_queue),
        ),
        tracking: config.message_tracking.then_some(Tracking {
            kept: config.message_expire,
        }),
    };
    if config.message_tracking {
        // Any number may run: each look is one script.
        MessageMonitor::new(Redis::new(config.redis.clone())).start();
    }
    let metrics = shared.metrics.clone();
    let gateways = GatewayThreads::default();
    // Its own connection: its pops block.
    let replies = Redis::new(config.redis.clone());
    Dispatcher::new(replies, reply_to.clone(), gateways.clone()).start();
    let (redis, max_body) = (config.redis.clone(), config.gateway_max_body);
    let config_tracking = config.message_tracking;
    let server = serve(listener, shared.serve, move || {
        // Each thread pushes its requests on a connection of its own.
        let gateway = gateways.start_for_this_thread(|thread| {
            let redis = Redis::new(redis.clone());
            Gateway::new(
                redis,
                &gateway_id,
                thread,
                reply_to.clone(),
                settings.clone(),
            )
        });
        let front = GatewayFront {
            gateway,
            max_body,
            tracking: config_tracking,
        };
        listener_app(Listener::Gateway, &metrics)
            .app_data(web::Data::new(front))
            .configure(routes::gateway::configure)
    })?;
    Ok((addr, server))
}
