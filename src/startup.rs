//! Start-up as composition: which actors start for which roles, from the config, and the
//! listeners around them ([`crate::listeners`]). [`run`] reads the config and checks it against
//! Redis; [`Application::build`] binds every port and starts every actor;
//! [`Application::run_until_stopped`] serves until a stop signal or a remote stop, then shuts
//! down gracefully.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle};
use switchyard_actors::gateway::tracking::history::MessageLog;
use switchyard_actors::kvs::store_gate::StoreGate;
use switchyard_actors::ops::metrics::{MetricsFlusher, MetricsScraper};
use switchyard_actors::ops::services::{ServiceInfo, ServiceRegistration};
use switchyard_actors::ops::status::StatusReader;
use switchyard_actors::recent::RecentList;
use switchyard_actors::registry::controller::ReplicaController;
use switchyard_actors::registry::{RegistrySettings, ServerRegistry};
use tokio::sync::oneshot;

use crate::app::{AppShared, KvsRole};
use crate::config::{self, Config, Role};
use crate::listeners::main_port::FleetActors;
use crate::listeners::spawned::AppServerLauncher;
use crate::listeners::{self, bind};
use crate::routes::access::{self, AccessPolicy};
use crate::routes::counting::Listener;
use crate::shutdown::{self, StopSignals};
use crate::takers::{self, TakerPool};

/// A process that is listening on every port its config asks for.
pub struct Application {
    role: Role,
    /// Each listener's address and server, the main port's first.
    servers: Vec<(Listener, SocketAddr, Server)>,
    /// Owns the spawned servers and the registrations; let go of at shutdown.
    registry: Addr<ServerRegistry>,
    service: Addr<ServiceRegistration>,
    /// Fires when someone deletes this process's registration: stop as on SIGTERM.
    remote_stop: oneshot::Receiver<()>,
    /// Closed first when stopping: the main then takes no writes it would lose.
    store_gate: StoreGate,
    takers: Option<TakerPool>,
}

/// Reads the config from `env` (and the Redis hash it may name), starts, and serves until
/// stopped.
pub async fn run(env: impl Fn(&str) -> Option<String>) -> ExitCode {
    let config = match config::load(env).await {
        Ok(config) => config,
        Err(err) => {
            log::error!("{err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = takers::check_list_types(&config).await {
        log::error!("{err}");
        return ExitCode::from(2);
    }
    let signals = match StopSignals::listen() {
        Ok(signals) => signals,
        Err(err) => {
            log::error!("cannot listen for stop signals: {err}");
            return ExitCode::FAILURE;
        }
    };
    match Application::build(&config) {
        Ok(application) => application.run_until_stopped(signals).await,
        Err(err) => {
            log::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

impl Application {
    /// Binds every listener (a port that is taken stops start-up before any actor runs) and
    /// starts the actors the config asks for. Run it inside an actix system.
    pub fn build(config: &Config) -> io::Result<Self> {
        let listener = bind(config.ip, config.port)?;
        let addr = listener.local_addr()?;
        let proxy_listener = config.proxy_port.map(|port| bind(config.ip, port));
        let proxy_listener = proxy_listener.transpose()?;
        let gateway_listener = config.gateway_port.map(|port| bind(config.ip, port));
        let gateway_listener = gateway_listener.transpose()?;

        let shared = AppShared::new(config);
        let redis = shared.redis().clone();
        let registry = ServerRegistry::new(
            redis.clone(),
            Box::new(AppServerLauncher {
                shared: shared.clone(),
                ip: config.ip,
                advertise_host: config.advertise_host.clone(),
            }),
            RegistrySettings {
                ports: config.spawn_ports.clone(),
                max: config.spawn_max,
                advertise_host: config.advertise_host.clone(),
                heartbeat: config.heartbeat,
                own_url: config.register_url.clone(),
            },
        )
        .start();
        if config.rcontrol {
            ReplicaController::new(redis.clone(), registry.clone(), config.heartbeat).start();
        }
        let mut servers = Vec::new();
        if let Some(listener) = proxy_listener {
            let (addr, server) = listeners::proxy::start(config, listener, &shared)?;
            servers.push((Listener::Proxy, addr, server));
        }
        access::warn_of_open_routes(&config.admin_token, &config.monitor_token, addr.port());
        let (stop, remote_stop) = oneshot::channel();
        // The lists this process takes from or feeds: /metrics and /status show their lengths,
        // and its registration names them for every other process's /status.
        let lists = takers::lists(config, redis.keys());
        let service = ServiceRegistration::new(
            redis.clone(),
            ServiceInfo {
                roles: roles(config),
                host: config.advertise_host.clone(),
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION"),
                lists: lists.clone(),
            },
            config.heartbeat,
            stop,
        )
        .start();
        let kvs = KvsRole::new(config);
        MetricsFlusher::new(redis.clone(), shared.metrics.clone()).start();
        let scraper = MetricsScraper::new(
            redis.clone(),
            shared.metrics.clone(),
            lists.clone(),
            kvs.main_store(),
        )
        .start();
        let recent = RecentList::new(redis.clone(), config.recent_size).start();
        let messages = MessageLog::new(redis.clone()).start();
        let status =
            StatusReader::new(redis, lists, registry.clone(), service.clone(), recent).start();
        if let Some(listener) = gateway_listener {
            let (addr, server) = listeners::gateway::start(config, listener, &shared)?;
            servers.push((Listener::Gateway, addr, server));
        }
        let takers = takers::start(config, &shared, &kvs);
        let store_gate = kvs.gate();
        let fleet = FleetActors {
            registry: registry.clone(),
            service: service.clone(),
            scraper,
            status,
            messages,
            access: AccessPolicy {
                admin: config.admin_token.clone(),
                monitor: config.monitor_token.clone(),
            },
        };
        let served_by = format!("{}:{}", config.advertise_host, addr.port());
        let main = listeners::main_port::start(listener, shared, kvs, fleet, served_by)?;
        servers.insert(0, (Listener::Main, addr, main));
        Ok(Self {
            role: config.role.clone(),
            servers,
            registry,
            service,
            remote_stop,
            store_gate,
            takers,
        })
    }

    /// Where `listener` listens, when the config asks for it.
    pub fn address(&self, listener: Listener) -> Option<SocketAddr> {
        self.servers
            .iter()
            .find(|(which, _, _)| *which == listener)
            .map(|(_, addr, _)| *addr)
    }

    /// Runs every server in the background of the current system, and the rest until the
    /// system stops, with no signal handling: how tests run the process in theirs.
    pub fn spawn(self) {
        for (_, _, server) in self.servers {
            actix_web::rt::spawn(server);
        }
        std::mem::forget(self.takers);
    }

    /// Serves until SIGTERM, SIGINT or a remote stop, then stops gracefully: writes refused
    /// first, registrations removed, requests in flight finished, takers stopped last (the
    /// gateway's requests in flight may wait on them).
    pub async fn run_until_stopped(self, mut signals: StopSignals) -> ExitCode {
        let role = match &self.role {
            Role::Main => "main store".to_owned(),
            Role::Forwarder { main } => format!("forwarder to {main}"),
        };
        let mut handles: Vec<ServerHandle> = Vec::new();
        let mut servers = Vec::new();
        for (listener, addr, server) in self.servers {
            match listener {
                Listener::Main => log::info!("switchyard listening on http://{addr} as {role}"),
                Listener::Proxy => log::info!("load-balancing proxy listening on http://{addr}"),
                _ => log::info!("{} listening on http://{addr}", listener.label()),
            }
            handles.push(server.handle());
            servers.push(server);
        }
        let outcome = shutdown::serve_until_signal(&mut signals, servers, self.remote_stop).await;
        // First of all: a write taken from now on would be lost with the process.
        self.store_gate.close();
        match &outcome {
            Ok(signal) => {
                log::info!("{signal}: deregistering, then finishing the requests in flight")
            }
            Err(why) => log::error!("a server stopped by itself ({why}); shutting down"),
        }
        shutdown::shut_down(&mut signals, &self.registry, &self.service, &handles).await;
        if let Some(takers) = self.takers {
            takers.stop().await;
        }
        match outcome {
            Ok(_) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    }
}

/// What this process does, as `/services` lists it: its role in the store, then each extra.
fn roles(config: &Config) -> String {
    let mut roles = vec![match config.role {
        Role::Main => "main",
        Role::Forwarder { .. } => "forwarder",
    }];
    let extras = [
        (config.proxy_port.is_some(), "proxy"),
        (config.rcontrol, "rcontrol"),
        (config.gateway_port.is_some(), "gateway"),
    ];
    roles.extend(extras.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
    roles.extend(config.takers.iter().map(|taker| taker.role()));
    roles.join(",")
}
