//! Starting the gateway's parts (docs/gateway.md): the gateway listener with its dispatcher,
//! the in-process workers and the standalone router, and stopping the workers gracefully.

mod app_job;

use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix::{Actor, Addr, Arbiter};
use actix_service::{IntoServiceFactory, ServiceFactory};
use actix_web::dev::{AppConfig, Server};
use actix_web::{web, App};
use futures_util::future::join_all;
use switchyard_actors::gateway::dispatcher::Dispatcher;
use switchyard_actors::gateway::front::{Gateway, GatewaySettings};
use switchyard_actors::gateway::registry::{DeregisterWorkers, WorkerRegistry};
use switchyard_actors::gateway::routes::{RouteJob, Routes};
use switchyard_actors::gateway::threads::GatewayThreads;
use switchyard_actors::gateway::worker::{Job, StopTaking, Worker};
use switchyard_actors::random_id;
use switchyard_actors::redis::{Redis, RedisConfig};
use tokio::sync::watch;

use crate::config::Config;
use crate::routes;
use crate::routes::gateway::GatewayFront;
use crate::server::serve;
use crate::startup::{AppShared, KvsRole};
use app_job::AppJob;

/// Requests one worker takes at once under load.
const MOST_PER_TAKE: usize = 16;

/// Routers of `ROUTER_IN`: routing is cheap, a few take turns.
const ROUTERS: usize = 2;

/// How long stopping workers may take: those taken are answered first.
const STOP_WORKERS_TIMEOUT: Duration = Duration::from_secs(5);

/// The gateway on `listener`: its requests queued by `GATEWAY_ROUTES`, answered through the
/// process's dispatcher.
pub(crate) fn start_gateway(
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
    };
    let gateways = GatewayThreads::default();
    // Its own connection: its pops block.
    let replies = Redis::new(config.redis.clone());
    Dispatcher::new(replies, reply_to.clone(), gateways.clone()).start();
    let routes = Routes::new(
        &config.gateway_routes,
        &keys,
        keys.named(&config.gateway_queue),
    );
    let (redis, max_body) = (config.redis.clone(), config.gateway_max_body);
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
            routes: routes.clone(),
            max_body,
        };
        App::new()
            .app_data(web::Data::new(front))
            .configure(routes::gateway::configure)
    })?;
    Ok((addr, server))
}

/// This process's workers (`WORKER_QUEUES`) and routers (`ROUTER_IN`), and their heartbeat.
pub struct WorkerPool {
    workers: Arc<Mutex<Vec<Addr<Worker>>>>,
    registry: Addr<WorkerRegistry>,
    arbiters: Vec<Arbiter>,
}

/// Starts the workers and routers the configuration asks for, if any. App workers run on
/// threads of their own (one per two cores), each thread with its own app; routers on the
/// calling thread.
pub(crate) fn start_workers(
    config: &Config,
    shared: &AppShared,
    kvs: &KvsRole,
) -> Option<WorkerPool> {
    if config.worker_queues.is_empty() && config.router_in.is_none() {
        return None;
    }
    let process = random_id();
    let keys = shared.redis().keys().clone();
    let (registered, registered_rx) = watch::channel(false);
    let workers: Arc<Mutex<Vec<Addr<Worker>>>> = Arc::default();
    let mut ids = Vec::new();
    let mut queues: Vec<String> = config.worker_queues.iter().map(|q| keys.named(q)).collect();

    // Worker n takes from queue n modulo their number: every queue gets one at least.
    let count = config.worker_concurrency.max(queues.len());
    // Handling is light next to the HTTP and Redis I/O around it: half the cores keep the
    // threads waking each other few (measured: one thread of two cores served more than two).
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = if queues.is_empty() {
        0
    } else {
        count.min(cores.div_ceil(2))
    };
    let arbiters: Vec<Arbiter> = (0..threads).map(|_| Arbiter::new()).collect();
    for (thread, arbiter) in arbiters.iter().enumerate() {
        let mine: Vec<(String, String)> = (thread..count)
            .step_by(threads)
            .map(|n| (format!("{process}-w{n}"), queues[n % queues.len()].clone()))
            .collect();
        ids.extend(mine.iter().map(|(id, _)| id.clone()));
        let (shared, kvs, config_redis) = (shared.clone(), kvs.clone(), config.redis.clone());
        let (registered, workers) = (registered_rx.clone(), Arc::clone(&workers));
        let served_by = format!("gateway-worker {process}");
        // The app is not `Send`: it is made on the thread that runs it.
        arbiter.spawn_fn(move || {
            actix_rt::spawn(start_app_workers(
                shared,
                kvs,
                config_redis,
                served_by,
                mine,
                registered,
                workers,
            ));
        });
    }
    if let Some(router_in) = &config.router_in {
        let router_in = keys.named(router_in);
        let fallback = keys.named(&config.gateway_queue);
        let job: Rc<dyn Job> = Rc::new(RouteJob(Routes::new(
            &config.gateway_routes,
            &keys,
            fallback,
        )));
        for n in 0..ROUTERS {
            let id = format!("{process}-r{n}");
            let redis = Redis::new(config.redis.clone());
            let router = Worker::new(
                redis,
                router_in.clone(),
                &id,
                Rc::clone(&job),
                MOST_PER_TAKE,
                registered_rx.clone(),
            );
            ids.push(id);
            workers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(router.start());
        }
        queues.push(router_in);
    }
    if !config.worker_queues.is_empty() {
        log::info!(
            "{count} gateway workers on {threads} threads taking requests from {}",
            config.worker_queues.join(", ")
        );
    }
    if let Some(router_in) = &config.router_in {
        log::info!("{ROUTERS} routers moving requests from {router_in} by GATEWAY_ROUTES");
    }
    let registry = WorkerRegistry::new(
        shared.redis().clone(),
        ids,
        queues,
        config.heartbeat,
        registered,
    )
    .start();
    Some(WorkerPool {
        workers,
        registry,
        arbiters,
    })
}

/// The app workers of one thread: one app, shared by the workers, each with its own Redis
/// connection.
async fn start_app_workers(
    shared: AppShared,
    kvs: KvsRole,
    redis: RedisConfig,
    served_by: String,
    mine: Vec<(String, String)>,
    registered: watch::Receiver<bool>,
    workers: Arc<Mutex<Vec<Addr<Worker>>>>,
) {
    let app = shared.app_with_kvs(&served_by, kvs.start_actors());
    let Ok(service) = app.into_factory().new_service(AppConfig::default()).await else {
        log::error!("the gateway workers' app did not start");
        return;
    };
    let job: Rc<dyn Job> = Rc::new(AppJob::new(service));
    for (id, queue) in mine {
        let redis = Redis::new(redis.clone());
        let worker = Worker::new(
            redis,
            queue,
            &id,
            Rc::clone(&job),
            MOST_PER_TAKE,
            registered.clone(),
        );
        let addr = worker.start();
        workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(addr);
    }
}

impl WorkerPool {
    /// Stops taking requests, answers those taken, then removes the registrations (a worker
    /// that could not finish in time leaves its busy list to be put back once it lapses).
    pub async fn stop(self) {
        let workers = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stopped = join_all(workers.iter().map(|worker| worker.send(StopTaking)));
        if tokio::time::timeout(STOP_WORKERS_TIMEOUT, stopped)
            .await
            .is_err()
        {
            log::warn!("gateway workers did not finish in time; what they hold is put back once they lapse");
        } else if let Ok(Err(err)) | Err(err) = self
            .registry
            .send(DeregisterWorkers)
            .await
            .map_err(switchyard_actors::ActorError::from)
        {
            log::warn!("gateway workers not deregistered: {err}; they lapse by themselves");
        }
        for arbiter in self.arbiters {
            arbiter.stop();
        }
    }
}
