//! The command line. With no command switchyard serves, its roles chosen by environment
//! variables (docs/configuration.md); `ndeploy deploy` (or `deploy`) queues a deployment for
//! ndeploy, `ndeploy pop` deploys one.

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
    /// Short for `ndeploy deploy`.
    Deploy(DeployArgs),
    /// ndeploy's commands, as the notes name them.
    #[command(subcommand)]
    Ndeploy(Ndeploy),
}

#[derive(Debug, Subcommand)]
pub enum Ndeploy {
    /// Queues a deployment, waits for its result and prints its directory last (exit 0), or
    /// the error on stderr (exit 1). Reads REDIS_URL, REDIS_PREFIX and NDEPLOY_TIMEOUT_S as the
    /// deployers do.
    Deploy(DeployArgs),
    /// Takes one queued deployment, waiting at most <SECONDS> for one, deploys it and prints
    /// its directory (exit 0); exits 1 when it failed, 3 when none came: a one-shot deployer
    /// for a cron or a container's restart policy. Reads the deployers' variables
    /// (NDEPLOY_DIR, NDEPLOY_INSTALL, NDEPLOY_TIMEOUT_S, REDIS_URL, REDIS_PREFIX).
    Pop(PopArgs),
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The repository to clone (https, http, ssh, git or file URL, or a path).
    pub git_url: String,
    /// The branch to clone; the repository's default when not given.
    pub branch: Option<String>,
    /// The commit to check out: a hash, a tag or a branch; HEAD (the branch's last commit)
    /// when not given.
    pub commit: Option<String>,
    /// A tag to check out; with a commit as well, both must name the same commit.
    #[arg(long)]
    pub tag: Option<String>,
    /// The list deployers take from, under REDIS_PREFIX.
    #[arg(long, env = "NDEPLOY_QUEUE", default_value = DEFAULT_DEPLOY_QUEUE, value_parser = list_name)]
    pub queue: String,
}

#[derive(Debug, Args)]
pub struct PopArgs {
    /// How long to wait for a queued deployment, in whole seconds (1 to 86400).
    #[arg(value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub seconds: u64,
    /// The list to take from, under REDIS_PREFIX.
    #[arg(long, env = "NDEPLOY_QUEUE", default_value = DEFAULT_DEPLOY_QUEUE, value_parser = list_name)]
    pub queue: String,
}

/// The queue ndeploy's commands use when `NDEPLOY_QUEUE` is unset: the notes' `ndeploy:req`.
pub const DEFAULT_DEPLOY_QUEUE: &str = "ndeploy:req";

fn list_name(raw: &str) -> Result<String, String> {
    if is_list_name(raw) {
        Ok(raw.to_owned())
    } else {
        Err("expected a list name of 1 to 200 visible characters".to_owned())
    }
}

/// The usage line of the subcommand at `path` (`["deploy"]`, `["ndeploy", "pop"]`), as
/// `--help` shows it.
pub fn usage(path: &[&str]) -> String {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    // Built, a subcommand knows its parents' names: `Usage: switchyard ndeploy pop ...`.
    cli.build();
    let mut command = &mut cli;
    for name in path {
        match command.find_subcommand_mut(name) {
            Some(sub) => command = sub,
            None => return String::new(),
        }
    }
    command.render_usage().to_string()
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
    fn deploy_takes_a_url_and_optionally_a_branch_a_commit_and_a_tag() {
        let cli = Cli::try_parse_from([
            "switchyard",
            "ndeploy",
            "deploy",
            "file:///x",
            "main",
            "abc123",
            "--tag",
            "v1",
        ])
        .expect("parsed");
        let Some(Command::Ndeploy(Ndeploy::Deploy(args))) = cli.command else {
            panic!("ndeploy deploy: {cli:?}");
        };
        assert_eq!(args.tag.as_deref(), Some("v1"));
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
        let usage = super::usage(&["deploy"]);
        assert!(usage.contains("Usage: switchyard deploy"), "{usage}");
        let usage = super::usage(&["ndeploy", "pop"]);
        assert!(usage.contains("Usage: switchyard ndeploy pop"), "{usage}");
    }

    #[test]
    fn pop_takes_whole_seconds_from_1_to_a_day() {
        let pop = |seconds: &str| Cli::try_parse_from(["switchyard", "ndeploy", "pop", seconds]);
        let Ok(Cli {
            command: Some(Command::Ndeploy(Ndeploy::Pop(args))),
        }) = pop("60")
        else {
            panic!("ndeploy pop 60");
        };
        assert_eq!(args.seconds, 60);
        for bad in ["0", "-1", "1.5", "86401", "soon"] {
            assert!(pop(bad).is_err(), "{bad}");
        }
    }
}
