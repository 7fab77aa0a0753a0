//! The gateway workers that answer with the app routes (`WORKER_QUEUES`, `RQUERY_QUEUE`), on
//! threads of their own (one per two cores), each thread with its own app.

use std::rc::Rc;
use std::sync::Arc;

use actix::Arbiter;
use actix_service::{IntoServiceFactory, ServiceFactory};
use actix_web::dev::AppConfig;
use switchyard_actors::gateway::job::Job;
use switchyard_actors::redis::RedisConfig;
use tokio::sync::watch;

use super::app_job::AppJob;
use super::{keep, start_worker, Starting, Takers};
use crate::app::{AppShared, KvsRole};
use crate::routes::counting::Listener;

/// Starts `concurrency` workers (at least one per queue) over `queues` (as named, without the
/// prefix).
pub(super) fn start(
    starting: &mut Starting<'_>,
    queues: &[&str],
    concurrency: usize,
    shared: &AppShared,
    kvs: &KvsRole,
) {
    let keys: Vec<String> = queues.iter().map(|q| starting.keys.named(q)).collect();
    // Worker n takes from queue n modulo their number: every queue gets one at least.
    let count = concurrency.max(keys.len());
    // Handling is light next to the HTTP and Redis I/O around it: half the cores keep the
    // threads waking each other few (measured: one thread of two cores served more than two).
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = count.min(cores.div_ceil(2));
    for thread in 0..threads {
        let arbiter = Arbiter::new();
        let mine: Vec<(String, String)> = (thread..count)
            .step_by(threads)
            .map(|n| {
                let id = format!("{}-w{n}", starting.process);
                (id, keys[n % keys.len()].clone())
            })
            .collect();
        starting.ids.extend(mine.iter().map(|(id, _)| id.clone()));
        let shared = shared.clone();
        let kvs = kvs.clone();
        let redis = starting.config.redis.clone();
        let registered = starting.registered.clone();
        let takers = Arc::clone(&starting.takers);
        let served_by = format!("gateway-worker {}", starting.process);
        // The app is not `Send`: it is made on the thread that runs it.
        arbiter.spawn_fn(move || {
            actix_rt::spawn(start_thread_workers(
                shared, kvs, redis, served_by, mine, registered, takers,
            ));
        });
        starting.arbiters.push(arbiter);
    }
    starting.queues.extend(keys);
    log::info!(
        "{count} gateway workers on {threads} threads taking requests from {}",
        queues.join(", ")
    );
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
    let app = shared.app(&served_by, Listener::Worker, Some(kvs.start_actors()));
    let Ok(service) = app.into_factory().new_service(AppConfig::default()).await else {
        log::error!("the gateway workers' app did not start");
        return;
    };
    let job: Rc<dyn Job> = Rc::new(AppJob::new(service, shared.metrics.clone()));
    for (id, queue) in mine {
        keep(&takers, start_worker(&redis, queue, &id, &job, &registered));
    }
}
