use std::process::ExitCode;

use actix_web::dev::{Server, ServerHandle};
use switchyard::config::{self, Role};
use switchyard::shutdown::{self, StopSignals};
use switchyard::{deploy_command, pool, startup};

/// redis-async logs an error for every command that fails while Redis is down; switchyard logs
/// the outage once when it starts and once when it ends instead.
const DEFAULT_LOG_FILTER: &str = "info,redis_async=off";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER))
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("deploy") {
        return actix_web::rt::System::new().block_on(deploy_command::run(&args[1..]));
    }
    actix_web::rt::System::new().block_on(async {
        let config = match config::load(|name| std::env::var(name).ok()).await {
            Ok(config) => config,
            Err(err) => {
                log::error!("{err}");
                return ExitCode::from(2);
            }
        };
        if let Err(err) = pool::check_list_types(&config).await {
            log::error!("{err}");
            return ExitCode::from(2);
        }
        let mut signals = match StopSignals::listen() {
            Ok(signals) => signals,
            Err(err) => {
                log::error!("cannot listen for stop signals: {err}");
                return ExitCode::FAILURE;
            }
        };
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
        let mut servers = vec![running.server];
        if let Some((addr, proxy)) = running.proxy {
            log::info!("load-balancing proxy listening on http://{addr}");
            servers.push(proxy);
        }
        if let Some((addr, gateway)) = running.gateway {
            log::info!("gateway listening on http://{addr}");
            servers.push(gateway);
        }
        let handles: Vec<ServerHandle> = servers.iter().map(Server::handle).collect();
        let outcome =
            shutdown::serve_until_signal(&mut signals, servers, running.remote_stop).await;
        // First of all: a write taken from now on would be lost with the process.
        running.store_gate.close();
        match &outcome {
            Ok(signal) => {
                log::info!("{signal}: deregistering, then finishing the requests in flight")
            }
            Err(why) => log::error!("a server stopped by itself ({why}); shutting down"),
        }
        shutdown::shut_down(&mut signals, &running.registry, &running.service, &handles).await;
        // After the servers: the gateway's requests in flight may wait on these workers.
        if let Some(workers) = running.workers {
            workers.stop().await;
        }
        match outcome {
            Ok(_) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}
