//! The per-thread `App`: built here once, for every listener (the main port, the proxy, the
//! gateway, spawned servers) and for the gateway workers, which call it in process.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpResponse};
use switchyard_actors::cache::Cache;
use switchyard_actors::images::{ImageQueue, ImageTransfers};
use switchyard_actors::kvs::forwarder::Forwarder;
use switchyard_actors::kvs::sharded_map::ShardedMap;
use switchyard_actors::kvs::store::Store;
use switchyard_actors::kvs::store_gate::StoreGate;
use switchyard_actors::ops::metrics::{Metrics, Operation};
use switchyard_actors::recent::RecentList;
use switchyard_actors::redis::{PublicKeys, Redis, RedisConfig};
use switchyard_actors::web::rquery::Rquery;

use crate::config::{Config, Role};
use crate::error::ApiError;
use crate::routes;
use crate::routes::counting::{CountRequests, Listener};
use crate::routes::images::UploadLimits;
use crate::routes::kvs::KvsActors;
use crate::server::ServeSettings;

/// The range of a mover step's histogram: a script moving messages takes milliseconds.
const MOVER_STEP_RANGE: Duration = Duration::from_secs(1);

/// Tells users and tests which app server answered.
const SERVED_BY: &str = "x-served-by";

/// What an `App` is to the servers that run it: written once here.
pub trait AppFactory:
    ServiceFactory<
    ServiceRequest,
    Config = (),
    Response = ServiceResponse<Self::Body>,
    Error = actix_web::Error,
    InitError = (),
>
{
    type Body: MessageBody + Unpin + 'static;
}

impl<T, B> AppFactory for T
where
    T: ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
        InitError = (),
    >,
    B: MessageBody + Unpin + 'static,
{
    type Body = B;
}

/// The start of every listener's app: its requests counted for `/metrics` under `listener`.
pub fn listener_app(listener: Listener, metrics: &Metrics) -> App<impl AppFactory> {
    App::new()
        .app_data(web::Data::new(metrics.clone()))
        .app_data(listener)
        .wrap(CountRequests)
}

/// What every app server of the process shares; cloned into each server's factory.
#[derive(Clone)]
pub struct AppShared {
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
    pub serve: ServeSettings,
    pub metrics: Metrics,
}

impl AppShared {
    pub fn new(config: &Config) -> Self {
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

    /// The app routes (`/`, `/set`, `/get`, `/recent`, `/upload`, `/meow`, `/rquery`, and
    /// the key-value API when `kvs` is given), every request recorded and answered with
    /// `X-Served-By`. Called in a server factory, so the actors it starts live on the worker
    /// thread whose requests they answer.
    pub fn app(
        &self,
        served_by: &str,
        listener: Listener,
        kvs: Option<KvsActors>,
    ) -> App<impl AppFactory> {
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
        listener_app(listener, &self.metrics)
            .app_data(web::Data::new(rquery))
            .app_data(web::Data::new(cache))
            .app_data(web::Data::new(recent))
            .app_data(web::Data::new(images))
            .app_data(web::Data::new(self.upload_limits.clone()))
            .wrap(DefaultHeaders::new().add((SERVED_BY, served_by.to_owned())))
            .wrap_fn(move |req, app| {
                routes::visits::record_visit(&visits, &req);
                app.call(req)
            })
            .configure(routes::home::configure)
            .configure(routes::cache::configure)
            .configure(routes::recent::configure)
            .configure(routes::images::configure)
            .configure(routes::rquery::configure)
            .configure(|cfg| {
                if let Some(kvs) = kvs {
                    cfg.app_data(web::Data::new(kvs));
                    routes::kvs::configure(cfg);
                }
            })
            .default_service(web::to(no_such_route))
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }
}

/// What a thread needs to start its key-value actors for the instance's role.
#[derive(Clone)]
pub struct KvsRole {
    role: Role,
    /// The one store of a main instance: every thread's `Store` actor shares it.
    store: Arc<ShardedMap>,
    /// Closed as the main stops: no more writes.
    gate: StoreGate,
    forward_timeout: Duration,
}

impl KvsRole {
    pub fn new(config: &Config) -> Self {
        Self {
            role: config.role.clone(),
            store: Arc::new(ShardedMap::new(config.kvs_max_bytes)),
            gate: StoreGate::default(),
            forward_timeout: config.forward_timeout,
        }
    }

    /// The main's store, for `/metrics`; `None` on a forwarder.
    pub fn main_store(&self) -> Option<Arc<ShardedMap>> {
        matches!(self.role, Role::Main).then(|| Arc::clone(&self.store))
    }

    /// Closed first when the process stops: the main then takes no writes it would lose.
    pub fn gate(&self) -> StoreGate {
        self.gate.clone()
    }

    /// The actors that answer this thread's key-value messages: a `Store` on the main, a
    /// `Forwarder` elsewhere.
    pub fn start_actors(&self) -> KvsActors {
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

async fn no_such_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoSuchRoute)
}
