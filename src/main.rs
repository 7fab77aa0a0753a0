use std::process::ExitCode;
use std::time::Duration;

use switchyard::config::{Config, Role};
use switchyard::startup;
use switchyard_actors::registry::DeregisterAll;

/// How long shutdown waits for the registry to remove its registrations and stop the spawned
/// servers (they have `SHUTDOWN_GRACE` each).
const DEREGISTER_TIMEOUT: Duration = Duration::from_secs(9);

/// redis-async logs an error for every command that fails while Redis is down; switchyard logs
/// the outage once when it starts and once when it ends instead.
const DEFAULT_LOG_FILTER: &str = "info,redis_async=off";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER))
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            log::error!("{err}");
            return ExitCode::from(2);
        }
    };
    actix_web::rt::System::new().block_on(async {
        let running = match startup::start(&config) {
            Ok(running) => running,
            Err(err) => {
                log::error!("{err}");
                return ExitCode::FAILURE;
            }
        };
        let role = match &config.role {
            Role::Main => "main store".to_string(),
            Role::Forwarder { main } => format!("forwarder to {main}"),
        };
        log::info!("switchyard listening on http://{} as {role}", running.addr);
        if let Some((addr, proxy)) = running.proxy {
            log::info!("load-balancing proxy listening on http://{addr}");
            actix_web::rt::spawn(proxy);
        }
        let served = running.server.await;
        // Stopped (SIGTERM, SIGINT): registrations go at once rather than lapse.
        let deregistered = running.registry.send(DeregisterAll {});
        match actix_web::rt::time::timeout(DEREGISTER_TIMEOUT, deregistered).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => log::warn!("registrations not removed: {err}"),
            _ => log::warn!("registrations not removed in time; they lapse by themselves"),
        }
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                log::error!("server stopped: {err}");
                ExitCode::FAILURE
            }
        }
    })
}
