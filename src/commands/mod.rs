//! The commands besides serving: ndeploy's `deploy` (also `ndeploy deploy`) and `ndeploy pop`.

pub mod deploy;
pub mod pop;

use std::process::ExitCode;

use crate::config::{self, Config};

/// The configuration from the environment, with `NDEPLOY_QUEUE` as `queue` (`None`: unset,
/// so no deployer is configured and `NDEPLOY_DIR` is not made); a refusal is printed and is
/// exit status 2.
async fn load_config(queue: Option<String>) -> Result<Config, ExitCode> {
    let lookup = move |name: &str| match name {
        "NDEPLOY_QUEUE" => queue.clone(),
        _ => std::env::var(name).ok(),
    };
    config::load(lookup).await.map_err(|err| {
        eprintln!("{err}");
        ExitCode::from(2)
    })
}
