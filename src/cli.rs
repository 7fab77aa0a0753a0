//! The command line. With no command switchyard serves, its roles chosen by environment
//! variables (docs/configuration.md); `deploy` queues a deployment for ndeploy.

use clap::{Args, Parser, Subcommand};
use switchyard_actors::gateway::routing::is_list_name;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A small infrastructure server: key-value store with forwarding, cache, queues, \
             registry, proxy, gateway, queue movers and a distributed web server.",
    long_about = "A small infrastructure server: key-value store with forwarding, cache, \
                  queues, registry, proxy, gateway, queue movers and a distributed web \
                  server.\n\nRun without a command, it serves: environment variables choose \
                  its roles (PORT, MAINIP, REDIS_URL, PROXY_PORT, GATEWAY_PORT, WORKER_QUEUES, \
                  ...), every one listed in docs/configuration.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Queues a deployment for ndeploy, waits for its result and prints its directory (exit 0),
    /// or the error on stderr (exit 1). Reads REDIS_URL, REDIS_PREFIX and NDEPLOY_TIMEOUT_S as
    /// the deployers do.
    Deploy(DeployArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The repository to clone (https, http, ssh, git or file URL, or a path).
    pub git_url: String,
    /// The branch to check out; the repository's default when not given.
    pub branch: Option<String>,
    /// The commit to check out (4 to 40 hexadecimal digits); the branch's last when not given.
    pub commit: Option<String>,
    /// The list deployers take from, under REDIS_PREFIX.
    #[arg(long, env = "NDEPLOY_QUEUE", default_value = DEFAULT_DEPLOY_QUEUE, value_parser = list_name)]
    pub queue: String,
}

/// The queue `deploy` uses when `NDEPLOY_QUEUE` is unset.
pub const DEFAULT_DEPLOY_QUEUE: &str = "ndeploy:queue";

fn list_name(raw: &str) -> Result<String, String> {
    if is_list_name(raw) {
        Ok(raw.to_owned())
    } else {
        Err("expected a list name of 1 to 200 visible characters".to_owned())
    }
}

/// `deploy`'s usage line, as `--help` shows it.
pub fn deploy_usage() -> String {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    // Built, a subcommand knows its parent's name: `Usage: switchyard deploy ...`.
    cli.build();
    cli.find_subcommand_mut("deploy")
        .map(|deploy| deploy.render_usage().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn deploy_takes_a_url_and_optionally_a_branch_and_a_commit() {
        let cli = Cli::try_parse_from(["switchyard", "deploy", "file:///x", "main", "abc123"])
            .expect("parsed");
        let Some(Command::Deploy(args)) = cli.command else {
            panic!("deploy: {cli:?}");
        };
        assert_eq!(
            (
                args.git_url.as_str(),
                args.branch.as_deref(),
                args.commit.as_deref()
            ),
            ("file:///x", Some("main"), Some("abc123"))
        );
        assert!(Cli::try_parse_from(["switchyard", "deploy"]).is_err());
        assert!(Cli::try_parse_from(["switchyard", "deploy", "--upload-pack=x"]).is_err());
        let usage = deploy_usage();
        assert!(usage.contains("Usage: switchyard deploy"), "{usage}");
    }
}
