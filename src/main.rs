use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{Cli, Command, Ndeploy};
use switchyard::commands::{deploy, pop};
use switchyard::startup;

/// redis-async logs an error for every command that fails while Redis is down; switchyard logs
/// the outage once when it starts and once when it ends instead.
const DEFAULT_LOG_FILTER: &str = "info,redis_async=off";

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER))
        .init();
    actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Some(Command::Deploy(args)) => deploy::run(args, &["deploy"]).await,
            Some(Command::Ndeploy(Ndeploy::Deploy(args))) => {
                deploy::run(args, &["ndeploy", "deploy"]).await
            }
            Some(Command::Ndeploy(Ndeploy::Pop(args))) => pop::run(args).await,
            None => startup::run(|name| std::env::var(name).ok()).await,
        }
    })
}
