//! Start-up: which actors serve which role, and the HTTP servers around them: the instance's
//! own, and the app servers `/spawn` starts in the same process.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::body::MessageBody;
use actix_web::dev::{
    Server, ServerHandle, Service, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpResponse};
use switchyard_actors::cache::Cache;
use switchyard_actors::images::{ImageQueue, ImageTransfers};
use switchyard_actors::kvs::forwarder::Forwarder;
use switchyard_actors::kvs::sharded_map::ShardedMap;
use switchyard_actors::kvs::store::Store;
use switchyard_actors::kvs::store_gate::StoreGate;
use switchyard_actors::metrics::{Metrics, MetricsFlusher, MetricsScraper, Operation};
use switchyard_actors::proxy::balancer::{LoadBalancer, Rotation};
use switchyard_actors::proxy::client::ProxyClient;
use switchyard_actors::proxy::server_list::{ServerList, ServerListWatcher};
use switchyard_actors::recent::RecentList;
use switchyard_actors::redis::{PublicKeys, Redis, RedisConfig};
use switchyard_actors::registry::controller::ReplicaController;
use switchyard_actors::registry::{AppServer, Launcher, RegistrySettings, ServerRegistry};
use switchyard_actors::rquery::Rquery;
use switchyard_actors::services::{ServiceInfo, ServiceRegistration};
use switchyard_actors::status::StatusReader;
use tokio::sync::oneshot;

use crate::config::{Config, Role};
use crate::error::ApiError;
use crate::gateway;
use crate::pool::{self, WorkerPool};
use crate::routes;
use crate::routes::access::AccessPolicy;
use crate::routes::images::UploadLimits;
use crate::routes::kvs::KvsActors;
use crate::routes::metrics::Listener;
use crate::server::{serve, ServeSettings};

/// The range of a mover step's histogram: a script moving messages takes milliseconds.
const MOVER_STEP_RANGE: Duration = Duration::from_secs(1);

/// Tells users and tests which app server answered.
const SERVED_BY: &str = "x-served-by";

/// A server that is bound and ready to be awaited (or spawned).
pub struct Running {
    /// The address actually bound: with `PORT=0` the system picked the port.
    pub addr: SocketAddr,
    pub server: Server,
    /// Owns the spawned servers and the registrations; `shutdown` tells it when to let go.
    pub registry: Addr<ServerRegistry>,
    /// The proxy's address and server, with `PROXY_PORT` set.
    pub proxy: Option<(SocketAddr, Server)>,
    /// The gateway's address and server, with `GATEWAY_PORT` set.
    pub gateway: Option<(SocketAddr, Server)>,
    /// The gateway workers, routers and movers the variables ask for.
    pub workers: Option<WorkerPool>,
    /// This process's registration in `<prefix>services`.
    pub service: Addr<ServiceRegistration>,
    /// Fires when someone deletes that registration: stop as on SIGTERM.
    pub remote_stop: oneshot::Receiver<()>,
    /// Close it first when stopping: the main then takes no writes it would lose.
    pub store_gate: StoreGate,
}

/// What every app server of the process shares; cloned into each server's factory.
#[derive(Clone)]
pub(crate) struct AppShared {
    redis: Redis,
    /// For the connection each app thread opens for itself.
    redis_config: RedisConfig,
    /// Images travel on a connection of their own, so they never hold up the small commands.
    image_redis: Redis,
    image_transfers: ImageTransfers,
    recent_size: usize,
    cache_ttl: Duration,
    upload_limits: UploadLimits,
    image_queue_max: usize,
    /// The only keys `/rquery` reads.
    public_keys: PublicKeys,
    /// `/rquery` queries under way at once on each HTTP thread: `RQUERY_MAX_INFLIGHT`.
    rquery_max_inflight: usize,
    pub(crate) serve: ServeSettings,
    pub(crate) metrics: Metrics,
}

impl AppShared {
    fn new(config: &Config) -> Self {
        let redis = Redis::new(config.redis.clone());
        Self {
            public_keys: redis.keys().public(&config.public_namespace),
            rquery_max_inflight: config.rquery_max_inflight,
            redis,
            redis_config: config.redis.clone(),
            image_redis: Redis::new(config.redis.clone()),
            image_transfers: ImageTransfers::default(),
            recent_size: config.recent_size,
            cache_ttl: config.cache_ttl,
            upload_limits: UploadLimits::new(config.image_max_bytes, config.uploads_max),
            image_queue_max: config.image_queue_max,
            serve: ServeSettings {
                workers: config.workers,
                client_timeout: config.client_timeout,
                max_connections: config.max_connections,
            },
            metrics: Metrics::new(|operation| match operation {
                Operation::Gateway | Operation::Worker => config.gateway_timeout,
                Operation::Mover => MOVER_STEP_RANGE,
                Operation::Proxy => config.proxy_timeout,
                Operation::Kvs => config.forward_timeout,
            }),
        }
    }

    /// The app routes (`/`, `/set`, `/get`, `/recent`, `/upload`, `/meow`, `/rquery`), every request
    /// recorded and answered with `X-Served-By`. Called in a server factory, so the actors it
    /// starts live on the worker thread whose requests they answer.
    pub(crate) fn app(
        &self,
        served_by: &str,
        listener: Listener,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        // A connection of the thread's own: a shared one lives on the thread that opened it, and
        // every command from another thread would cross to it and back.
        let redis = Redis::new(self.redis_config.clone());
        let cache = Cache::new(redis.clone(), self.cache_ttl).start();
        let recent = RecentList::new(redis.clone(), self.recent_size).start();
        let images = ImageQueue::new(
            self.image_redis.clone(),
            self.image_transfers.clone(),
            self.image_queue_max,
        )
        .start();
        let rquery = Rquery::new(redis, self.public_keys.clone(), self.rquery_max_inflight).start();
        let visits = recent.clone();
        App::new()
            .app_data(web::Data::new(rquery))
            .app_data(web::Data::new(cache))
            .app_data(web::Data::new(recent))
            .app_data(web::Data::new(images))
            .app_data(web::Data::new(self.upload_limits.clone()))
            .app_data(web::Data::new(self.metrics.clone()))
            .app_data(listener)
            .wrap(DefaultHeaders::new().add((SERVED_BY, served_by.to_owned())))
            .wrap_fn(move |req, app| {
                routes::recent::record_visit(&visits, &req);
                app.call(req)
            })
            .configure(routes::home::configure)
            .configure(routes::cache::configure)
            .configure(routes::recent::configure)
            .configure(routes::images::configure)
            .configure(routes::rquery::configure)
            .default_service(web::to(no_such_route))
            .wrap(routes::metrics::CountRequests)
    }

    /// The app routes and the key-value API: what an instance and a gateway worker answer.
    pub(crate) fn app_with_kvs(
        &self,
        served_by: &str,
        listener: Listener,
        kvs: KvsActors,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        self.app(served_by, listener)
            .app_data(web::Data::new(kvs))
            .configure(routes::kvs::configure)
    }

    pub(crate) fn redis(&self) -> &Redis {
        &self.redis
    }
}

/// What a thread needs to start its key-value actors for the instance's role.
#[derive(Clone)]
pub(crate) struct KvsRole {
    role: Role,
    /// The one store of a main instance: every thread's `Store` actor shares it.
    store: Arc<ShardedMap>,
    /// Closed as the main stops: no more writes.
    gate: StoreGate,
    forward_timeout: Duration,
}

impl KvsRole {
    fn new(config: &Config) -> Self {
        Self {
            role: config.role.clone(),
            store: Arc::new(ShardedMap::new(config.kvs_max_bytes)),
            gate: StoreGate::default(),
            forward_timeout: config.forward_timeout,
        }
    }

    /// The main's store (empty on a forwarder).
    fn store(&self) -> Arc<ShardedMap> {
        Arc::clone(&self.store)
    }

    /// The actors that answer this thread's key-value messages: a `Store` on the main, a
    /// `Forwarder` elsewhere.
    pub(crate) fn start_actors(&self) -> KvsActors {
        match &self.role {
            Role::Main => KvsActors::main(
                Store::new(Arc::clone(&self.store), self.gate.clone()).start(),
                self.gate.clone(),
            ),
            Role::Forwarder { main } => {
                KvsActors::forwarder(Forwarder::new(main, self.forward_timeout).start())
            }
        }
    }
}

/// Binds the listener and builds the server for the role in `config`. The caller runs it
/// (`.await`s or spawns `server`) inside an actix system.
pub fn start(config: &Config) -> io::Result<Running> {
    // Every listener first: a port that is taken stops start-up before any actor runs.
    let listener = bind(config.ip, config.port)?;
    let addr = listener.local_addr()?;
    let proxy_listener = match config.proxy_port {
        Some(port) => Some(bind(config.ip, port)?),
        None => None,
    };
    let gateway_listener = match config.gateway_port {
        Some(port) => Some(bind(config.ip, port)?),
        None => None,
    };
    let served_by = format!("{}:{}", config.advertise_host, addr.port());
    let shared = AppShared::new(config);
    let registry = ServerRegistry::new(
        shared.redis.clone(),
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
    let registry_for_routes = registry.clone();
    if config.rcontrol {
        ReplicaController::new(shared.redis.clone(), registry.clone(), config.heartbeat).start();
    }
    let proxy = match proxy_listener {
        Some(listener) => Some(start_proxy(config, listener, &shared)?),
        None => None,
    };
    routes::access::warn_of_open_routes(&config.admin_token, &config.monitor_token, addr.port());
    let access = web::Data::new(AccessPolicy {
        admin: config.admin_token.clone(),
        monitor: config.monitor_token.clone(),
    });
    let (stop, remote_stop) = oneshot::channel();
    let service = ServiceRegistration::new(
        shared.redis.clone(),
        ServiceInfo {
            roles: roles(config),
            host: config.advertise_host.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION"),
        },
        config.heartbeat,
        stop,
    )
    .start();
    let service_for_routes = web::Data::new(service.clone());
    let kvs = KvsRole::new(config);
    MetricsFlusher::new(shared.redis.clone(), shared.metrics.clone()).start();
    // The lists this process takes from or moves to: /metrics and /status show their lengths.
    let lists = pool::lists(config, shared.redis.keys());
    let main_store = matches!(config.role, Role::Main).then(|| kvs.store());
    let scraper = MetricsScraper::new(
        shared.redis.clone(),
        shared.metrics.clone(),
        lists.clone(),
        main_store,
    )
    .start();
    let scraper = web::Data::new(scraper);
    let status = StatusReader::new(
        shared.redis.clone(),
        lists,
        registry.clone(),
        service.clone(),
        RecentList::new(shared.redis.clone(), config.recent_size).start(),
    )
    .start();
    let status = web::Data::new(status);
    let gateway = match gateway_listener {
        Some(listener) => Some(gateway::start_gateway(config, listener, &shared)?),
        None => None,
    };
    let workers = pool::start(config, &shared, &kvs);

    let settings = shared.serve;
    let store_gate = kvs.gate.clone();
    let server = serve(listener, settings, move || {
        shared
            .app_with_kvs(&served_by, Listener("main"), kvs.start_actors())
            .app_data(web::Data::new(registry_for_routes.clone()))
            .app_data(access.clone())
            .app_data(service_for_routes.clone())
            .app_data(scraper.clone())
            .app_data(status.clone())
            .configure(routes::registry::configure)
            .configure(routes::services::configure)
            .configure(routes::metrics::configure)
            .configure(routes::dashboard::configure)
    })?;
    Ok(Running {
        addr,
        server,
        registry,
        proxy,
        gateway,
        workers,
        service,
        remote_stop,
        store_gate,
    })
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
        (!config.answered_queues().is_empty(), "workers"),
        (config.router_in.is_some(), "router"),
        (config.filer_queue.is_some(), "filer"),
        (config.render_queue.is_some(), "render"),
        (config.ndeploy_queue.is_some(), "ndeploy"),
        (config.lpush_in.is_some(), "lpush"),
        (config.mpush_in.is_some(), "mpush"),
        (config.mbalance_in.is_some(), "mbalance"),
        (config.vpush.is_some(), "vpush"),
    ];
    roles.extend(extras.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
    roles.join(",")
}

/// The load-balancing proxy: every request to the next registered server.
fn start_proxy(
    config: &Config,
    listener: TcpListener,
    shared: &AppShared,
) -> io::Result<(SocketAddr, Server)> {
    let addr = listener.local_addr()?;
    let servers = ServerList::default();
    ServerListWatcher::new(shared.redis.clone(), servers.clone()).start();
    let rotation = Rotation::default();
    let timeout = config.proxy_timeout;
    let metrics = web::Data::new(shared.metrics.clone());
    let server = serve(listener, shared.serve, move || {
        let balancer = LoadBalancer::new(servers.clone(), rotation.clone()).start();
        App::new()
            .app_data(web::Data::new(balancer))
            .app_data(web::Data::new(ProxyClient::new(timeout)))
            .app_data(metrics.clone())
            .app_data(Listener("proxy"))
            .configure(routes::proxy::configure)
            .wrap(routes::metrics::CountRequests)
    })?;
    Ok((addr, server))
}

/// A listener on `ip:port`; the error names the address.
fn bind(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    TcpListener::bind((ip, port))
        .map_err(|err| io::Error::new(err.kind(), format!("cannot listen on {ip}:{port}: {err}")))
}

/// Starts the app servers of `/spawn` in this process.
struct AppServerLauncher {
    shared: AppShared,
    ip: IpAddr,
    advertise_host: String,
}

impl Launcher for AppServerLauncher {
    fn launch(&self, port: u16) -> io::Result<Box<dyn AppServer>> {
        let listener = TcpListener::bind((self.ip, port))?;
        let shared = self.shared.clone();
        let served_by = format!("{}:{port}", self.advertise_host);
        let settings = shared.serve;
        let server = serve(listener, settings, move || {
            shared.app(&served_by, Listener("spawned"))
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

async fn no_such_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoSuchRoute)
}
