//! Start-up: which actors serve which role, and the HTTP server around them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpResponse, HttpServer};
use switchyard_actors::cache::Cache;
use switchyard_actors::forwarder::Forwarder;
use switchyard_actors::image_queue::{ImageQueue, ImageTransfers};
use switchyard_actors::recent::RecentList;
use switchyard_actors::redis::Redis;
use switchyard_actors::sharded_map::ShardedMap;
use switchyard_actors::store::Store;

use crate::config::{Config, Role};
use crate::error::{Problem, Standard, Wording};
use crate::routes;
use crate::routes::images::ImageLimit;
use crate::routes::kvs::KvsActors;

/// `docker stop` waits 10 s before it kills; requests in flight get most of that to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// A server that is bound and ready to be awaited (or spawned).
pub struct Running {
    /// The address actually bound: with `PORT=0` the system picked the port.
    pub addr: SocketAddr,
    pub server: Server,
}

/// Binds the listener and builds the server for the role in `config`. The caller runs it
/// (`.await`s or spawns `server`) inside an actix system.
pub fn start(config: &Config) -> io::Result<Running> {
    let role = config.role.clone();
    let forward_timeout = config.forward_timeout;
    // The one store of a main instance: every worker's `Store` actor shares it.
    let store = Arc::new(ShardedMap::default());
    let redis = Redis::new(config.redis.clone());
    let (recent_size, cache_ttl) = (config.recent_size, config.cache_ttl);
    let image_limit = ImageLimit(config.image_max_bytes);
    // Images travel on a connection of their own, so they never hold up the small commands.
    let image_redis = Redis::new(config.redis.clone());
    let image_transfers = ImageTransfers::default();

    // The factory runs once on each worker thread, so the actors it starts live on the thread
    // whose requests they answer.
    let mut server = HttpServer::new(move || {
        let kvs = match &role {
            Role::Main => KvsActors::from(Store::new(Arc::clone(&store)).start()),
            Role::Forwarder { main } => {
                KvsActors::from(Forwarder::new(main, forward_timeout).start())
            }
        };
        let cache = Cache::new(redis.clone(), cache_ttl).start();
        let recent = RecentList::new(redis.clone(), recent_size).start();
        let images = ImageQueue::new(image_redis.clone(), image_transfers.clone()).start();
        let visits = recent.clone();
        App::new()
            .app_data(web::Data::new(kvs))
            .app_data(web::Data::new(cache))
            .app_data(web::Data::new(recent))
            .app_data(web::Data::new(images))
            .app_data(web::Data::new(image_limit))
            .wrap_fn(move |req, app| {
                routes::recent::record_visit(&visits, &req);
                app.call(req)
            })
            .configure(routes::home::configure)
            .configure(routes::kvs::configure)
            .configure(routes::cache::configure)
            .configure(routes::recent::configure)
            .configure(routes::images::configure)
            .default_service(web::to(no_such_route))
    })
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let server = server.bind((config.ip, config.port))?;
    let addr =
        server.addrs().first().copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::AddrNotAvailable, "no address was bound")
        })?;
    Ok(Running {
        addr,
        server: server.run(),
    })
}

async fn no_such_route() -> HttpResponse {
    Standard::problem_response(&Problem::NoSuchRoute)
}
