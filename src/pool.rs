//! The process's list takers, started and stopped together under one heartbeat: gateway
//! workers (`WORKER_QUEUES`), routers (`ROUTER_IN`) and movers (`LPUSH_IN`, `MPUSH_IN`,
//! `MBALANCE_IN`, `VPUSH_IN`). Those with a busy list register in `<prefix>workers`, so what
//! one held when it died is put back on its list by a live one; vpush keeps its own lease.

use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix::{Actor, Arbiter, Recipient};
use actix_service::{IntoServiceFactory, ServiceFactory};
use actix_web::dev::AppConfig;
use futures_util::future::join_all;
use switchyard_actors::deploy::{DeploySettings, Deployer};
use switchyard_actors::gateway::registry::{DeregisterWorkers, WorkerRegistry};
use switchyard_actors::gateway::routes::{RouteJob, Routes};
use switchyard_actors::gateway::worker::{Job, StopTaking, Worker};
use switchyard_actors::movers::{Delivery, Mover};
use switchyard_actors::redis::{Keys, Redis, RedisConfig};
use switchyard_actors::vpush::{Vpush, VpushRoute};
use switchyard_actors::web::filer::FilerJob;
use switchyard_actors::web::render::RenderJob;
use switchyard_actors::{random_id, ActorError};
use tokio::sync::watch;

use crate::config::{Config, MoverKind};
use crate::gateway::app_job::AppJob;
use crate::routes::metrics::Listener;
use crate::startup::{AppShared, KvsRole};

/// Requests one worker takes at once under load.
const MOST_PER_TAKE: usize = 16;

/// Routers of `ROUTER_IN`: routing is cheap, a few take turns.
const ROUTERS: usize = 2;

/// hfiler's workers: a file is read once, then served from Redis.
const FILERS: usize = 2;

/// hrender's workers: each render runs on a blocking thread, so a few take turns.
const RENDERERS: usize = 2;

/// How long stopping may take: what was taken is finished first.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

type Takers = Arc<Mutex<Vec<Recipient<StopTaking>>>>;

/// This process's workers, routers and movers, and their heartbeat.
pub struct WorkerPool {
    takers: Takers,
    registry: actix::Addr<WorkerRegistry>,
    arbiters: Vec<Arbiter>,
}

/// What is being started: the ids to register and the lists they take from.
struct Starting {
    process: String,
    keys: Keys,
    ids: Vec<String>,
    queues: Vec<String>,
    takers: Takers,
    registered: watch::Receiver<bool>,
}

impl Starting {
    /// `count` workers on the calling thread taking from `input` (a full key) with `job`, their
    /// ids `<process>-<tag><n>`.
    fn start_workers(
        &mut self,
        config: &Config,
        input: &str,
        job: &Rc<dyn Job>,
        count: usize,
        tag: char,
    ) {
        for n in 0..count {
            let id = format!("{}-{tag}{n}", self.process);
            let redis = Redis::new(config.redis.clone());
            let worker = Worker::new(
                redis,
                input.to_owned(),
                &id,
                Rc::clone(job),
                MOST_PER_TAKE,
                self.registered.clone(),
            );
            self.add(worker.start().recipient());
            self.ids.push(id);
        }
        self.queues.push(input.to_owned());
    }

    fn add(&self, taker: Recipient<StopTaking>) {
        self.takers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(taker);
    }
}

/// Starts the workers, routers and movers the configuration asks for, if any.
pub(crate) fn start(config: &Config, shared: &AppShared, kvs: &KvsRole) -> Option<WorkerPool> {
    let movers = config.movers();
    let nothing_takes = config.answered_queues().is_empty()
        && config.filer_queue.is_none()
        && config.render_queue.is_none()
        && config.ndeploy_queue.is_none()
        && config.router_in.is_none()
        && movers.is_empty()
        && config.vpush.is_none();
    if nothing_takes {
        return None;
    }
    let (registered, registered_rx) = watch::channel(false);
    let mut starting = Starting {
        process: random_id(),
        keys: shared.redis().keys().clone(),
        ids: Vec::new(),
        queues: Vec::new(),
        takers: Arc::default(),
        registered: registered_rx,
    };
    let arbiters = start_app_workers(config, shared, kvs, &mut starting);
    start_routers(config, &mut starting);
    start_filers(config, &mut starting);
    start_renderers(config, &mut starting);
    start_deployer(config, &mut starting);
    for (n, mover) in movers.iter().enumerate() {
        let keys = &starting.keys;
        let outputs: Vec<String> = mover.outputs.iter().map(|o| keys.named(o)).collect();
        let delivery = match mover.kind {
            MoverKind::Lpush => Delivery::One(outputs[0].clone()),
            MoverKind::Mpush => Delivery::All(outputs),
            MoverKind::Mbalance => Delivery::Shortest(outputs),
        };
        let name = delivery.name();
        let id = format!("{}-m{n}", starting.process);
        let input = keys.named(&mover.input);
        let redis = Redis::new(config.redis.clone());
        let mover_actor = Mover::new(
            redis,
            input.clone(),
            delivery,
            &id,
            starting.registered.clone(),
            shared.metrics.clone(),
        );
        starting.add(mover_actor.start().recipient());
        starting.ids.push(id);
        starting.queues.push(input);
        log::info!(
            "{name} moving from {} to {}",
            mover.input,
            mover.outputs.join(", ")
        );
    }
    if let Some(vpush) = &config.vpush {
        let route = VpushRoute {
            input: starting.keys.named(&vpush.input),
            output: format!("{}{}", vpush.remote.prefix, vpush.output),
            remote_prefix: vpush.remote.prefix.clone(),
        };
        let replica = format!("{}-v", starting.process);
        let source = Redis::new(config.redis.clone());
        let remote = Redis::new(vpush.remote.clone());
        let actor = Vpush::new(
            source,
            remote,
            route,
            replica,
            config.heartbeat,
            shared.metrics.clone(),
        );
        starting.add(actor.start().recipient());
        log::info!(
            "vpush moving from {} to {} on {}:{}",
            vpush.input,
            vpush.output,
            vpush.remote.host,
            vpush.remote.port
        );
    }
    let mut queues = starting.queues.clone();
    queues.dedup();
    let registry = WorkerRegistry::new(
        shared.redis().clone(),
        starting.ids,
        queues,
        config.heartbeat,
        registered,
    )
    .start();
    Some(WorkerPool {
        takers: starting.takers,
        registry,
        arbiters,
    })
}

/// The gateway workers, on threads of their own (one per two cores), each thread with its own
/// app.
fn start_app_workers(
    config: &Config,
    shared: &AppShared,
    kvs: &KvsRole,
    starting: &mut Starting,
) -> Vec<Arbiter> {
    let queues: Vec<String> = config
        .answered_queues()
        .iter()
        .map(|q| starting.keys.named(q))
        .collect();
    if queues.is_empty() {
        return Vec::new();
    }
    // Worker n takes from queue n modulo their number: every queue gets one at least.
    let count = config.worker_concurrency.max(queues.len());
    // Handling is light next to the HTTP and Redis I/O around it: half the cores keep the
    // threads waking each other few (measured: one thread of two cores served more than two).
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = count.min(cores.div_ceil(2));
    let arbiters: Vec<Arbiter> = (0..threads).map(|_| Arbiter::new()).collect();
    for (thread, arbiter) in arbiters.iter().enumerate() {
        let mine: Vec<(String, String)> = (thread..count)
            .step_by(threads)
            .map(|n| {
                let id = format!("{}-w{n}", starting.process);
                (id, queues[n % queues.len()].clone())
            })
            .collect();
        starting.ids.extend(mine.iter().map(|(id, _)| id.clone()));
        let shared = shared.clone();
        let kvs = kvs.clone();
        let redis = config.redis.clone();
        let registered = starting.registered.clone();
        let takers = Arc::clone(&starting.takers);
        let served_by = format!("gateway-worker {}", starting.process);
        // The app is not `Send`: it is made on the thread that runs it.
        arbiter.spawn_fn(move || {
            actix_rt::spawn(start_thread_workers(
                shared, kvs, redis, served_by, mine, registered, takers,
            ));
        });
    }
    starting.queues.extend(queues);
    log::info!(
        "{count} gateway workers on {threads} threads taking requests from {}",
        config.answered_queues().join(", ")
    );
    arbiters
}

/// The app workers of one thread: one app, shared by the workers, each with its own Redis
/// connection.
async fn start_thread_workers(
    shared: AppShared,
    kvs: KvsRole,
    redis: RedisConfig,
    served_by: String,
    mine: Vec<(String, String)>,
    registered: watch::Receiver<bool>,
    takers: Takers,
) {
    let app = shared.app_with_kvs(&served_by, Listener("worker"), kvs.start_actors());
    let Ok(service) = app.into_factory().new_service(AppConfig::default()).await else {
        log::error!("the gateway workers' app did not start");
        return;
    };
    let job: Rc<dyn Job> = Rc::new(AppJob::new(service, shared.metrics.clone()));
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
        takers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(worker.start().recipient());
    }
}

/// hfiler's workers (`FILER_QUEUE`, `FILER_ROOT`), on the calling thread.
fn start_filers(config: &Config, starting: &mut Starting) {
    let (Some(queue), Some(root)) = (&config.filer_queue, &config.filer_root) else {
        return;
    };
    let redis = Redis::new(config.redis.clone());
    let job = match FilerJob::new(root, redis, config.filer_ttl) {
        Ok(job) => Rc::new(job) as Rc<dyn Job>,
        Err(err) => {
            log::error!("FILER_ROOT {}: {err}; no files served", root.display());
            return;
        }
    };
    let input = starting.keys.named(queue);
    starting.start_workers(config, &input, &job, FILERS, 'f');
    log::info!("{FILERS} filers serving {} from {queue}", root.display());
}

/// hrender's workers (`RENDER_QUEUE`, `TEMPLATES_DIR`), on the calling thread.
fn start_renderers(config: &Config, starting: &mut Starting) {
    let (Some(queue), Some(root)) = (&config.render_queue, &config.templates_dir) else {
        return;
    };
    let redis = Redis::new(config.redis.clone());
    let public = redis.keys().public(&config.public_namespace);
    let job = match RenderJob::new(root, redis, public) {
        Ok(job) => Rc::new(job) as Rc<dyn Job>,
        Err(err) => {
            log::error!("TEMPLATES_DIR {}: {err}; no pages rendered", root.display());
            return;
        }
    };
    let input = starting.keys.named(queue);
    starting.start_workers(config, &input, &job, RENDERERS, 'p');
    log::info!(
        "{RENDERERS} renderers rendering {} from {queue}",
        root.display()
    );
}

/// ndeploy's one deployer (`NDEPLOY_QUEUE`, `NDEPLOY_DIR`): deployments are heavy, so one at
/// a time per process.
fn start_deployer(config: &Config, starting: &mut Starting) {
    let (Some(queue), Some(dir)) = (&config.ndeploy_queue, &config.ndeploy_dir) else {
        return;
    };
    let settings = DeploySettings {
        dir: dir.clone(),
        install: config.ndeploy_install.clone(),
        timeout: config.ndeploy_timeout,
    };
    let input = starting.keys.named(queue);
    let id = format!("{}-d0", starting.process);
    let redis = Redis::new(config.redis.clone());
    let deployer = Deployer::new(
        redis,
        input.clone(),
        &id,
        settings,
        starting.registered.clone(),
    );
    starting.add(deployer.start().recipient());
    starting.ids.push(id);
    starting.queues.push(input);
    log::info!("deploying from {queue} into {}", dir.display());
}

/// The standalone routers of `ROUTER_IN`, on the calling thread.
fn start_routers(config: &Config, starting: &mut Starting) {
    let Some(router_in) = &config.router_in else {
        return;
    };
    let keys = &starting.keys;
    let input = keys.named(router_in);
    let fallback = keys.named(&config.gateway_queue);
    let job: Rc<dyn Job> = Rc::new(RouteJob(Routes::new(
        &config.gateway_routes,
        keys,
        fallback,
    )));
    starting.start_workers(config, &input, &job, ROUTERS, 'r');
    log::info!("{ROUTERS} routers moving requests from {router_in} by GATEWAY_ROUTES");
}

/// Every list this process takes from or moves to (full keys): their lengths are in
/// `/metrics`.
pub fn lists(config: &Config, keys: &Keys) -> Vec<String> {
    let mut lists: Vec<String> = Vec::new();
    if config.gateway_port.is_some() {
        lists.push(config.gateway_queue.clone());
    }
    lists.extend(config.answered_queues());
    lists.extend(config.router_in.iter().cloned());
    lists.extend(config.filer_queue.iter().cloned());
    lists.extend(config.render_queue.iter().cloned());
    lists.extend(config.ndeploy_queue.iter().cloned());
    for mover in config.movers() {
        lists.push(mover.input);
        lists.extend(mover.outputs);
    }
    lists.extend(config.vpush.iter().map(|v| v.input.clone()));
    lists.sort();
    lists.dedup();
    lists.iter().map(|list| keys.named(list)).collect()
}

/// Every list a taker's variable names must be a list, or not exist yet: a key of another type
/// stops the program, naming the variable. Unchecked (with a warning) when Redis does not
/// answer: the takers then log the error when they reach it.
pub async fn check_list_types(config: &Config) -> Result<(), String> {
    let mut named: Vec<(&'static str, String)> = Vec::new();
    named.extend(
        config
            .worker_queues
            .iter()
            .map(|q| ("WORKER_QUEUES", q.clone())),
    );
    let single = [
        ("RQUERY_QUEUE", &config.rquery_queue),
        ("ROUTER_IN", &config.router_in),
        ("FILER_QUEUE", &config.filer_queue),
        ("RENDER_QUEUE", &config.render_queue),
        ("NDEPLOY_QUEUE", &config.ndeploy_queue),
    ];
    named.extend(
        single
            .into_iter()
            .filter_map(|(variable, list)| Some((variable, list.clone()?))),
    );
    for mover in config.movers() {
        let (input, output) = match mover.kind {
            MoverKind::Lpush => ("LPUSH_IN", "LPUSH_OUT"),
            MoverKind::Mpush => ("MPUSH_IN", "MPUSH_OUT"),
            MoverKind::Mbalance => ("MBALANCE_IN", "MBALANCE_OUT"),
        };
        named.push((input, mover.input));
        named.extend(mover.outputs.into_iter().map(|o| (output, o)));
    }
    named.extend(config.vpush.iter().map(|v| ("VPUSH_IN", v.input.clone())));
    if named.is_empty() {
        return Ok(());
    }
    let redis = Redis::new(config.redis.clone());
    for (variable, list) in named {
        let key = redis.keys().named(&list);
        match redis.key_type(&key).await {
            Ok(kind) if kind == "list" || kind == "none" => {}
            Ok(kind) => {
                return Err(format!(
                    "{variable} names {key}, which holds a {kind}, not a list: \
                     name another list or remove that key"
                ))
            }
            Err(err) => {
                log::warn!("could not check that {variable}'s lists are lists: {err}");
                return Ok(());
            }
        }
    }
    Ok(())
}

impl WorkerPool {
    /// Stops taking, finishes what was taken, then removes the registrations (a taker that
    /// could not finish in time leaves its busy list to be put back once it lapses).
    pub async fn stop(self) {
        let takers = self
            .takers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stopped = join_all(takers.iter().map(|taker| taker.send(StopTaking)));
        if tokio::time::timeout(STOP_TIMEOUT, stopped).await.is_err() {
            log::warn!(
                "workers did not finish in time; what they hold is put back once they lapse"
            );
        } else if let Ok(Err(err)) | Err(err) = self
            .registry
            .send(DeregisterWorkers)
            .await
            .map_err(ActorError::from)
        {
            log::warn!("workers not deregistered: {err}; they lapse by themselves");
        }
        for arbiter in self.arbiters {
            arbiter.stop();
        }
    }
}
