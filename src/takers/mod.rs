//! The process's takers (docs/services.md), started and stopped together under one heartbeat:
//! one pass over the config's [`TakerSpec`]s. Those with a busy list register in
//! `<prefix>workers` ([`TakerRoster`]), so what one held when it died is put back on its list
//! by a live one; vpush keeps its own lease.

mod app_job;
mod app_workers;
mod checks;

use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix::{Actor, Arbiter, Recipient};
use futures_util::future::join_all;
use switchyard_actors::gateway::job::Job;
use switchyard_actors::gateway::routing::{RouteTable, RouterJob};
use switchyard_actors::gateway::worker::Worker;
use switchyard_actors::movers::vpush::{Vpush, VpushRoute};
use switchyard_actors::movers::{Delivery, Mover};
use switchyard_actors::redis::{Keys, Redis, RedisConfig};
use switchyard_actors::roster::{DeregisterTakers, TakerRoster};
use switchyard_actors::run_loop::{StopTaking, Taker};
use switchyard_actors::web::filer::FilerJob;
use switchyard_actors::web::ndeploy::{DeploySettings, Deployer};
use switchyard_actors::web::render::RenderJob;
use switchyard_actors::{random_id, ActorError};
use tokio::sync::watch;

use crate::app::{AppShared, KvsRole};
use crate::config::takers::{MoverKind, MoverSpec, VpushSpec};
use crate::config::{Config, TakerSpec};
pub use checks::{check_list_types, lists};

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

/// This process's takers, and their heartbeat.
pub struct TakerPool {
    takers: Takers,
    roster: actix::Addr<TakerRoster>,
    arbiters: Vec<Arbiter>,
}

/// What is being started: the ids to register and the lists they take from.
struct Starting<'a> {
    config: &'a Config,
    process: String,
    keys: Keys,
    ids: Vec<String>,
    queues: Vec<String>,
    takers: Takers,
    registered: watch::Receiver<bool>,
    arbiters: Vec<Arbiter>,
    /// Movers started so far: each mover's id is `<process>-m<n>`.
    movers: usize,
}

impl Starting<'_> {
    /// Adds a started taker, registered under `id` when it has a busy list on `input`.
    fn add(&mut self, taker: Recipient<StopTaking>, registered: Option<(String, String)>) {
        keep(&self.takers, taker);
        if let Some((id, input)) = registered {
            self.ids.push(id);
            self.queues.push(input);
        }
    }

    /// `count` workers on the calling thread taking from `queue` with `job`, their ids
    /// `<process>-<tag><n>`.
    fn start_workers(&mut self, queue: &str, job: &Rc<dyn Job>, count: usize, tag: char) {
        let input = self.keys.named(queue);
        for n in 0..count {
            let id = format!("{}-{tag}{n}", self.process);
            let started = start_worker(
                &self.config.redis,
                input.clone(),
                &id,
                job,
                &self.registered,
            );
            self.add(started, Some((id, input.clone())));
        }
    }

    /// Starts the taker `spec` describes.
    fn start(&mut self, spec: &TakerSpec, shared: &AppShared, kvs: &KvsRole) {
        match spec {
            TakerSpec::AppWorkers {
                queues,
                concurrency,
            } => {
                let queues: Vec<&str> = queues.iter().map(|(_, queue)| queue.as_str()).collect();
                app_workers::start(self, &queues, *concurrency, shared, kvs);
            }
            TakerSpec::Router { input } => {
                let config = self.config;
                let fallback = self.keys.named(&config.gateway_queue);
                let table = RouteTable::new(&config.gateway_routes, &self.keys, fallback);
                let job: Rc<dyn Job> = Rc::new(RouterJob(table));
                self.start_workers(input, &job, ROUTERS, 'r');
                log::info!("{ROUTERS} routers moving requests from {input} by GATEWAY_ROUTES");
            }
            TakerSpec::Filer {
                queue,
                root,
                settings,
            } => {
                let redis = Redis::new(self.config.redis.clone());
                match FilerJob::new(root, redis, settings.clone()) {
                    Ok(job) => {
                        self.start_workers(queue, &(Rc::new(job) as Rc<dyn Job>), FILERS, 'f');
                        log::info!("{FILERS} filers serving {} from {queue}", root.display());
                    }
                    Err(err) => {
                        log::error!("FILER_ROOT {}: {err}; no files served", root.display())
                    }
                }
            }
            TakerSpec::Renderer { queue, templates } => {
                let redis = Redis::new(self.config.redis.clone());
                let public = redis.keys().public(&self.config.public_namespace);
                match RenderJob::new(templates, redis, public) {
                    Ok(job) => {
                        let job = Rc::new(job) as Rc<dyn Job>;
                        self.start_workers(queue, &job, RENDERERS, 'p');
                        let templates = templates.display();
                        log::info!("{RENDERERS} renderers rendering {templates} from {queue}");
                    }
                    Err(err) => log::error!(
                        "TEMPLATES_DIR {}: {err}; no pages rendered",
                        templates.display()
                    ),
                }
            }
            TakerSpec::Deployer {
                queue,
                dir,
                install,
            } => self.start_deployer(queue, dir, install),
            TakerSpec::Mover(mover) => self.start_mover(mover, shared),
            TakerSpec::Vpush(vpush) => self.start_vpush(vpush, shared),
        }
    }

    /// ndeploy's one deployer: deployments are heavy, so one at a time per process.
    fn start_deployer(&mut self, queue: &str, dir: &std::path::Path, install: &Option<String>) {
        let settings = DeploySettings {
            dir: dir.to_owned(),
            install: install.clone(),
            timeout: self.config.ndeploy_timeout,
        };
        let input = self.keys.named(queue);
        let id = format!("{}-d0", self.process);
        let redis = Redis::new(self.config.redis.clone());
        let deployer = Deployer::new(redis, input.clone(), &id, settings, self.registered.clone());
        self.add(deployer.start_taking().recipient(), Some((id, input)));
        log::info!("deploying from {queue} into {}", dir.display());
    }

    fn start_mover(&mut self, mover: &MoverSpec, shared: &AppShared) {
        let keys = &self.keys;
        let outputs: Vec<String> = mover.outputs.iter().map(|o| keys.named(o)).collect();
        let delivery = match mover.kind {
            MoverKind::Lpush => Delivery::One(outputs[0].clone()),
            MoverKind::Mpush => Delivery::All(outputs),
            MoverKind::Mbalance => Delivery::Shortest(outputs),
        };
        let id = format!("{}-m{}", self.process, self.movers);
        self.movers += 1;
        let input = keys.named(&mover.input);
        let redis = Redis::new(self.config.redis.clone());
        let started = Mover::new(
            redis,
            input.clone(),
            delivery,
            &id,
            self.registered.clone(),
            shared.metrics.clone(),
        )
        .start_taking();
        self.add(started.recipient(), Some((id, input)));
        log::info!(
            "{} moving from {} to {}",
            mover.kind.name(),
            mover.input,
            mover.outputs.join(", ")
        );
    }

    fn start_vpush(&mut self, vpush: &VpushSpec, shared: &AppShared) {
        let route = VpushRoute {
            input: self.keys.named(&vpush.input),
            output: format!("{}{}", vpush.remote.prefix, vpush.output),
            remote_prefix: vpush.remote.prefix.clone(),
        };
        let replica = format!("{}-v", self.process);
        let source = Redis::new(self.config.redis.clone());
        let remote = Redis::new(vpush.remote.clone());
        let heartbeat = self.config.heartbeat;
        let metrics = shared.metrics.clone();
        let started = Vpush::new(source, remote, route, replica, heartbeat, metrics).start_taking();
        self.add(started.recipient(), None);
        log::info!(
            "vpush moving from {} to {} on {}",
            vpush.input,
            vpush.output,
            vpush.remote.describe()
        );
    }
}

/// A gateway worker on the calling thread, taking from `queue` (a full key) as `id` with
/// `job`, on a Redis connection of its own (its takes block).
fn start_worker(
    redis: &RedisConfig,
    queue: String,
    id: &str,
    job: &Rc<dyn Job>,
    registered: &watch::Receiver<bool>,
) -> Recipient<StopTaking> {
    let worker = Worker::new(
        Redis::new(redis.clone()),
        queue,
        id,
        Rc::clone(job),
        MOST_PER_TAKE,
        registered.clone(),
    );
    worker.start_taking().recipient()
}

/// Keeps `taker` among those stopped together.
fn keep(takers: &Takers, taker: Recipient<StopTaking>) {
    takers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(taker);
}

/// Starts the takers the configuration asks for, if any.
pub fn start(config: &Config, shared: &AppShared, kvs: &KvsRole) -> Option<TakerPool> {
    if config.takers.is_empty() {
        return None;
    }
    let (registered, registered_rx) = watch::channel(false);
    let mut starting = Starting {
        config,
        process: random_id(),
        keys: shared.redis().keys().clone(),
        ids: Vec::new(),
        queues: Vec::new(),
        takers: Arc::default(),
        registered: registered_rx,
        arbiters: Vec::new(),
        movers: 0,
    };
    for spec in &config.takers {
        starting.start(spec, shared, kvs);
    }
    let mut queues = starting.queues.clone();
    queues.dedup();
    let roster = TakerRoster::new(
        shared.redis().clone(),
        starting.ids,
        queues,
        config.heartbeat,
        registered,
    )
    .start();
    Some(TakerPool {
        takers: starting.takers,
        roster,
        arbiters: starting.arbiters,
    })
}

impl TakerPool {
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
            .roster
            .send(DeregisterTakers)
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
