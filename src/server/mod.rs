//! Every HTTP listener of the process (the instance's port, the proxy, the spawned servers) is
//! served the same way: actix-http over a [`stream::GuardedStream`], so a client that is slow
//! to send a head, lets its body stall, or does not read its answer is cut off after
//! `CLIENT_TIMEOUT_MS`, on every request of a kept-alive connection.
//!
//! actix-web's `HttpServer` cannot wrap the connection's stream, so this builds the same
//! stack from its parts: actix-server accepts, actix-http speaks HTTP/1.1, the `App` answers.

mod clock;
mod requests;
mod stream;

use std::net::TcpListener;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Request};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt,
};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceResponse};
use actix_web::Error;

use clock::ConnectionClock;
use stream::GuardedStream;

/// `docker stop` waits 10 s before it kills; requests in flight get most of that to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// How long an idle kept-alive connection stays open (actix-web's default), or the client
/// timeout when that is shorter: the forwarder and the proxy drop their idle connections
/// sooner (`IDLE_CONNECTION_LIFETIME`).
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// What every listener of the process shares.
#[derive(Debug, Clone, Copy)]
pub struct ServeSettings {
    /// Worker threads; by default one per CPU core.
    pub workers: Option<usize>,
    /// `CLIENT_TIMEOUT_MS`.
    pub client_timeout: Duration,
    /// `MAX_CONNECTIONS`: per listener, shared out among the workers.
    pub max_connections: usize,
}

/// Serves the `App`s `factory` makes (one per worker thread) on `listener`. The caller runs the
/// server; it stops on its handle (signals are `shutdown`'s).
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    settings: ServeSettings,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    S::Service: 'static,
    B: MessageBody + Unpin + 'static,
{
    let addr = listener.local_addr()?;
    let limit = settings.client_timeout;
    let mut builder = Server::build()
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    let workers = settings.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    // Past it a worker stops accepting: new connections wait in the listen backlog.
    let per_worker = settings.max_connections.div_ceil(workers).max(1);
    builder = builder
        .workers(workers)
        .max_concurrent_connections(per_worker);
    let shutting_down = builder.graceful_shutdown_signal();
    let builder = builder.listen(format!("switchyard-{addr}"), listener, move || {
        let shutting_down = shutting_down.clone();
        let app = map_config(factory().into_factory(), |_| AppConfig::default());
        let app = actix_service::apply_fn_factory(app, |mut req: Request, app: &S::Service| {
            let done = requests::on_head(&mut req);
            let answer = app.call(req);
            async move {
                let response = answer.await?.into();
                Ok::<_, Error>(requests::tracked(response, done))
            }
        });
        let http = HttpService::<GuardedStream<actix_rt::net::TcpStream>, _, _>::build()
            .keep_alive(KeepAlive::Timeout(KEEP_ALIVE.min(limit)))
            .client_request_timeout(limit)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .graceful_shutdown_signal(move || {
                let shutting_down = shutting_down.clone();
                async move { shutting_down.notified().await }
            })
            .on_connect_ext(|stream: &GuardedStream<_>, data| {
                data.insert(stream.clock().clone());
            })
            .h1(app.map_err(|err: Error| err.error_response()));
        fn_service(move |tcp: actix_rt::net::TcpStream| async move {
            let peer = tcp.peer_addr().ok();
            // Answers are written whole: waiting to coalesce them only adds latency.
            tcp.set_nodelay(true)?;
            Ok::<_, std::io::Error>((GuardedStream::new(tcp, ConnectionClock::new(limit)), peer))
        })
        .map_err(|err| log::debug!("connection not set up: {err}"))
        .and_then(http.map_err(|err| log::debug!("connection ended: {err}")))
    })?;
    Ok(builder.run())
}
