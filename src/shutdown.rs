//! Stopping on SIGTERM (`docker stop`), SIGINT (Ctrl-C), or when the process's service
//! registration is deleted (a remote stop): registrations go first, so proxies stop choosing
//! this instance, then every server of the process finishes the requests it has. A second
//! signal stops at once.

use std::io;
use std::pin::pin;
use std::time::Duration;

use actix::Addr;
use actix_web::dev::{Server, ServerHandle};
use futures_util::future::{join, join_all, select, select_all, Either};
use switchyard_actors::ops::services::{DeregisterService, ServiceRegistration};
use switchyard_actors::registry::{DeregisterAll, ServerRegistry, StopSpawned};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::oneshot;

/// Removing the registrations is one Redis command (750 ms, one retry); past this they lapse
/// by themselves within three heartbeats. With the servers' 8 s grace it stays inside the 10 s
/// `docker stop` waits before it kills.
const DEREGISTER_TIMEOUT: Duration = Duration::from_millis(1500);

/// The signals that stop switchyard. Listening replaces their default action (exit at once),
/// so create this before the servers start.
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    pub fn listen() -> io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next stop signal; answers its name.
    pub async fn next(&mut self) -> &'static str {
        let term = pin!(self.term.recv());
        let int = pin!(self.int.recv());
        match select(term, int).await {
            Either::Left(_) => "SIGTERM",
            Either::Right(_) => "SIGINT",
        }
    }
}

/// Runs `servers` until a stop signal comes or `remote_stop` fires (what stopped it), or until
/// one of them ends by itself (why: it failed to start its workers, say), which should not
/// happen.
pub async fn serve_until_signal(
    signals: &mut StopSignals,
    servers: Vec<Server>,
    remote_stop: oneshot::Receiver<()>,
) -> Result<&'static str, String> {
    let running = select_all(servers.into_iter().map(actix_web::rt::spawn));
    let told = async {
        match remote_stop.await {
            Ok(()) => "the service's registration deleted",
            // Its sender gone unfired: no remote stop will come.
            Err(_) => std::future::pending().await,
        }
    };
    let (signal, told) = (pin!(signals.next()), pin!(told));
    match select(running, select(signal, told)).await {
        Either::Right((Either::Left((signal, _)) | Either::Right((signal, _)), _)) => Ok(signal),
        Either::Left(((ended, _, _), _)) => Err(match ended {
            Ok(Ok(())) => "it stopped".to_owned(),
            Ok(Err(err)) => err.to_string(),
            Err(err) => err.to_string(),
        }),
    }
}

/// Shuts the instance down gracefully: `servers` are the instance's own HTTP servers (its
/// app port, the proxy); the registry's spawned servers stop alongside them. Completes early,
/// with a warning, when another signal comes.
pub async fn shut_down(
    signals: &mut StopSignals,
    registry: &Addr<ServerRegistry>,
    service: &Addr<ServiceRegistration>,
    servers: &[ServerHandle],
) {
    let graceful = async {
        let deregistered = join(
            registry.send(DeregisterAll {}),
            service.send(DeregisterService),
        );
        match actix_web::rt::time::timeout(DEREGISTER_TIMEOUT, deregistered).await {
            Ok((Ok(Ok(())), Ok(Ok(())))) => {}
            Ok((Ok(Err(err)), _) | (_, Ok(Err(err)))) => {
                log::warn!("registrations not removed: {err}")
            }
            _ => log::warn!("registrations not removed in time; they lapse by themselves"),
        }
        let own = join_all(servers.iter().map(|server| server.stop(true)));
        let (_, spawned) = join(own, registry.send(StopSpawned {})).await;
        if let Err(err) = spawned {
            log::warn!("spawned servers not stopped gracefully: {err}");
        }
    };
    if let Either::Right((again, _)) = select(pin!(graceful), pin!(signals.next())).await {
        log::warn!("{again} during shutdown: stopping now");
    }
}
