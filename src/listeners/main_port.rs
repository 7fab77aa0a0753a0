//! The instance's own port (`PORT`): the app routes, the key-value API for its role, and the
//! routes that show and change the fleet.

use std::net::TcpListener;

use actix::Addr;
use actix_web::dev::Server;
use actix_web::web;
use switchyard_actors::gateway::tracking::history::MessageLog;
use switchyard_actors::ops::metrics::MetricsScraper;
use switchyard_actors::ops::services::ServiceRegistration;
use switchyard_actors::ops::status::StatusReader;
use switchyard_actors::registry::ServerRegistry;

use crate::app::{AppShared, KvsRole};
use crate::routes;
use crate::routes::access::AccessPolicy;
use crate::routes::counting::Listener;
use crate::server::serve;

/// The actors the fleet's routes ask, on top of the app's.
pub struct FleetActors {
    pub registry: Addr<ServerRegistry>,
    pub service: Addr<ServiceRegistration>,
    pub scraper: Addr<MetricsScraper>,
    pub status: Addr<StatusReader>,
    pub messages: Addr<MessageLog>,
    pub access: AccessPolicy,
}

/// The main port's server on `listener`, answering as `served_by`.
pub fn start(
    listener: TcpListener,
    shared: AppShared,
    kvs: KvsRole,
    fleet: FleetActors,
    served_by: String,
) -> std::io::Result<Server> {
    let registry = web::Data::new(fleet.registry);
    let service = web::Data::new(fleet.service);
    let scraper = web::Data::new(fleet.scraper);
    let status = web::Data::new(fleet.status);
    let messages = web::Data::new(fleet.messages);
    let access = web::Data::new(fleet.access);
    let settings = shared.serve;
    serve(listener, settings, move || {
        shared
            .app(&served_by, Listener::Main, Some(kvs.start_actors()))
            .app_data(registry.clone())
            .app_data(access.clone())
            .app_data(service.clone())
            .app_data(scraper.clone())
            .app_data(status.clone())
            .app_data(messages.clone())
            .configure(routes::registry::configure)
            .configure(routes::services::configure)
            .configure(routes::metrics::configure)
            .configure(routes::dashboard::configure)
            .configure(routes::messages::configure)
    })
}
