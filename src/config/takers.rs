//! What this process takes from Redis, as one list of [`TakerSpec`]s read from the variables
//! and checked once: gateway workers, the router, hfiler, hrender, ndeploy, the movers and
//! vpush. Starting them, `/metrics`' lists, the list type checks, the service's roles and the
//! public namespace's check are each one pass over that list.

use std::path::PathBuf;

use switchyard_actors::redis::{RedisConfig, TlsRoots};
use switchyard_actors::web::filer::FilerSettings;

use super::deploy_dir::deploy_dir;
use super::env::{directory, list_name, list_names, within, Env};
use super::{ConfigError, REDIS_URL_FORM};

const LIST: &str = "a list name of 1 to 200 visible characters";
const LISTS: &str = "list names separated by commas, none repeated";

/// Every variable this file reads.
pub const VARIABLES: &[&str] = &[
    "WORKER_QUEUES",
    "WORKER_CONCURRENCY",
    "RQUERY_QUEUE",
    "ROUTER_IN",
    "FILER_QUEUE",
    "FILER_ROOT",
    "FILER_TTL_SECS",
    "FILER_EXPIRY",
    "FILER_GZIP",
    "RENDER_QUEUE",
    "TEMPLATES_DIR",
    "NDEPLOY_QUEUE",
    "NDEPLOY_DIR",
    "NDEPLOY_INSTALL",
    "LPUSH_IN",
    "LPUSH_OUT",
    "MPUSH_IN",
    "MPUSH_OUT",
    "MBALANCE_IN",
    "MBALANCE_OUT",
    "VPUSH_IN",
    "VPUSH_URL",
    "VPUSH_OUT",
    "VPUSH_PREFIX",
];

/// One kind of taker, with what it needs. List names are as the variables give them, without
/// the prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum TakerSpec {
    /// Gateway workers answering with the app routes: `WORKER_QUEUES` and `RQUERY_QUEUE`.
    AppWorkers {
        /// Each queue with the variable that named it.
        queues: Vec<(&'static str, String)>,
        /// `WORKER_CONCURRENCY`: how many requests they handle at once.
        concurrency: usize,
    },
    /// The standalone router (`ROUTER_IN`), by `GATEWAY_ROUTES`.
    Router { input: String },
    /// hfiler (`FILER_QUEUE`, `FILER_ROOT`; `FILER_EXPIRY`, `FILER_TTL_SECS`, `FILER_GZIP`).
    Filer {
        queue: String,
        root: PathBuf,
        settings: FilerSettings,
    },
    /// hrender (`RENDER_QUEUE`, `TEMPLATES_DIR`).
    Renderer { queue: String, templates: PathBuf },
    /// ndeploy (`NDEPLOY_QUEUE`, `NDEPLOY_DIR`, `NDEPLOY_INSTALL`; `NDEPLOY_TIMEOUT_S` is the
    /// config's, shared with the `deploy` command).
    Deployer {
        queue: String,
        dir: PathBuf,
        install: Option<String>,
    },
    /// lpush, mpush or mbalance.
    Mover(MoverSpec),
    /// vpush, to a list on another Redis.
    Vpush(VpushSpec),
}

/// A mover's input and outputs, as the variables name them (without the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoverSpec {
    pub kind: MoverKind,
    pub input: String,
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoverKind {
    Lpush,
    Mpush,
    Mbalance,
}

impl MoverKind {
    const ALL: [Self; 3] = [Self::Lpush, Self::Mpush, Self::Mbalance];

    /// The variables naming its input and its outputs.
    pub fn variables(self) -> (&'static str, &'static str) {
        match self {
            Self::Lpush => ("LPUSH_IN", "LPUSH_OUT"),
            Self::Mpush => ("MPUSH_IN", "MPUSH_OUT"),
            Self::Mbalance => ("MBALANCE_IN", "MBALANCE_OUT"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Lpush => "lpush",
            Self::Mpush => "mpush",
            Self::Mbalance => "mbalance",
        }
    }
}

/// vpush: from a list on `REDIS_URL` to a list on another Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct VpushSpec {
    /// Under `REDIS_PREFIX`.
    pub input: String,
    /// `VPUSH_URL`, its prefix `VPUSH_PREFIX` (by default `REDIS_PREFIX`).
    pub remote: RedisConfig,
    /// Under the remote's prefix.
    pub output: String,
}

/// A list on this process's Redis that a taker's variable names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedList<'a> {
    pub variable: &'static str,
    pub list: &'a str,
}

impl TakerSpec {
    /// What `/services` lists this taker as.
    pub fn role(&self) -> &'static str {
        match self {
            Self::AppWorkers { .. } => "workers",
            Self::Router { .. } => "router",
            Self::Filer { .. } => "filer",
            Self::Renderer { .. } => "render",
            Self::Deployer { .. } => "ndeploy",
            Self::Mover(mover) => mover.kind.name(),
            Self::Vpush(_) => "vpush",
        }
    }

    /// The lists on this process's Redis it takes from or moves to (vpush's output is on
    /// another Redis), each with its variable.
    pub fn lists(&self) -> Vec<NamedList<'_>> {
        fn named<'a>(variable: &'static str, list: &'a str) -> NamedList<'a> {
            NamedList { variable, list }
        }
        match self {
            Self::AppWorkers { queues, .. } => queues
                .iter()
                .map(|(var, queue)| named(var, queue))
                .collect(),
            Self::Router { input } => vec![named("ROUTER_IN", input)],
            Self::Filer { queue, .. } => vec![named("FILER_QUEUE", queue)],
            Self::Renderer { queue, .. } => vec![named("RENDER_QUEUE", queue)],
            Self::Deployer { queue, .. } => vec![named("NDEPLOY_QUEUE", queue)],
            Self::Mover(mover) => {
                let (input, output) = mover.kind.variables();
                std::iter::once(named(input, &mover.input))
                    .chain(mover.outputs.iter().map(|list| named(output, list)))
                    .collect()
            }
            Self::Vpush(vpush) => vec![named("VPUSH_IN", &vpush.input)],
        }
    }
}

/// The takers the variables ask for, in the order `/services` lists their roles.
pub fn read<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    redis_prefix: &str,
    roots: Option<&TlsRoots>,
) -> Result<Vec<TakerSpec>, ConfigError> {
    let mut takers = Vec::new();
    let worker_queues = env.parsed("WORKER_QUEUES", LISTS, list_names)?;
    let concurrency = env.parsed(
        "WORKER_CONCURRENCY",
        "a number of workers from 1 to 256",
        within(1..=256_usize),
    )?;
    let rquery_queue = env.parsed("RQUERY_QUEUE", LIST, list_name)?;
    let mut queues: Vec<(&'static str, String)> = worker_queues
        .unwrap_or_default()
        .into_iter()
        .map(|queue| ("WORKER_QUEUES", queue))
        .collect();
    if let Some(rquery) = rquery_queue {
        if !queues.iter().any(|(_, queue)| *queue == rquery) {
            queues.push(("RQUERY_QUEUE", rquery));
        }
    }
    if !queues.is_empty() {
        takers.push(TakerSpec::AppWorkers {
            queues,
            concurrency: concurrency.unwrap_or(8),
        });
    }
    if let Some(input) = env.parsed("ROUTER_IN", LIST, list_name)? {
        takers.push(TakerSpec::Router { input });
    }
    let filer_root = env.parsed("FILER_ROOT", "an existing directory", directory)?;
    let settings = super::filer::settings(env)?;
    if let Some(queue) = env.parsed("FILER_QUEUE", LIST, list_name)? {
        let root = needed(
            filer_root,
            "FILER_QUEUE",
            &queue,
            "FILER_ROOT",
            "the directory to serve",
        )?;
        takers.push(TakerSpec::Filer {
            queue,
            root,
            settings,
        });
    }
    let templates = env.parsed("TEMPLATES_DIR", "an existing directory", directory)?;
    if let Some(queue) = env.parsed("RENDER_QUEUE", LIST, list_name)? {
        let what = "the directory of the templates";
        let templates = needed(templates, "RENDER_QUEUE", &queue, "TEMPLATES_DIR", what)?;
        takers.push(TakerSpec::Renderer { queue, templates });
    }
    let install = env.parsed("NDEPLOY_INSTALL", "a shell command", |v| Some(v.to_owned()))?;
    if let Some(queue) = env.parsed("NDEPLOY_QUEUE", LIST, list_name)? {
        takers.push(TakerSpec::Deployer {
            queue,
            dir: deploy_dir(env, redis_prefix)?,
            install,
        });
    }
    for kind in MoverKind::ALL {
        if let Some(mover) = read_mover(env, kind)? {
            takers.push(TakerSpec::Mover(mover));
        }
    }
    if let Some(vpush) = read_vpush(env, redis_prefix, roots)? {
        takers.push(TakerSpec::Vpush(vpush));
    }
    Ok(takers)
}

/// `found`, or an error on `variable` saying `other` must be set as well.
fn needed<T>(
    found: Option<T>,
    variable: &'static str,
    value: &str,
    other: &str,
    what: &str,
) -> Result<T, ConfigError> {
    found.ok_or_else(|| ConfigError {
        name: variable,
        value: value.to_owned(),
        expected: format!("{other} set as well: {what}").into(),
    })
}

/// A mover's input needs its outputs and the other way round, and no output may be its input
/// (the mover would move its messages round forever).
fn read_mover<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    kind: MoverKind,
) -> Result<Option<MoverSpec>, ConfigError> {
    let (input_var, output_var) = kind.variables();
    let input = env.parsed(input_var, LIST, list_name)?;
    let outputs = match kind {
        MoverKind::Lpush => env.parsed(output_var, LIST, list_name)?.map(|o| vec![o]),
        MoverKind::Mpush | MoverKind::Mbalance => env.parsed(output_var, LISTS, list_names)?,
    };
    match (input, outputs) {
        (None, None) => Ok(None),
        (Some(value), None) => Err(ConfigError {
            name: input_var,
            value,
            expected: "its outputs named too (the _OUT variable)".into(),
        }),
        (None, Some(outputs)) => Err(ConfigError {
            name: output_var,
            value: outputs.join(","),
            expected: "its input named too (the _IN variable)".into(),
        }),
        (Some(input), Some(outputs)) if outputs.contains(&input) => Err(ConfigError {
            name: output_var,
            value: outputs.join(","),
            expected: "lists other than the input".into(),
        }),
        (Some(input), Some(outputs)) => Ok(Some(MoverSpec {
            kind,
            input,
            outputs,
        })),
    }
}

/// The vpush variables: `VPUSH_IN`, `VPUSH_URL` and `VPUSH_OUT` all, or none.
fn read_vpush<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    redis_prefix: &str,
    roots: Option<&TlsRoots>,
) -> Result<Option<VpushSpec>, ConfigError> {
    let input = env.parsed("VPUSH_IN", LIST, list_name)?;
    let output = env.parsed("VPUSH_OUT", LIST, list_name)?;
    let prefix = env.parsed("VPUSH_PREFIX", "a key prefix", |v| Some(v.to_owned()))?;
    let prefix = prefix.as_deref().unwrap_or(redis_prefix);
    let remote = env.parsed_or_why("VPUSH_URL", REDIS_URL_FORM, |v| {
        RedisConfig::parse(v, prefix, roots).map(|remote| remote.named("VPUSH_URL"))
    })?;
    match (input, remote, output) {
        (Some(input), Some(remote), Some(output)) => Ok(Some(VpushSpec {
            input,
            remote,
            output,
        })),
        (None, None, None) => Ok(None),
        (input, remote, output) => {
            let missing = [
                ("VPUSH_IN", input.is_none()),
                ("VPUSH_URL", remote.is_none()),
                ("VPUSH_OUT", output.is_none()),
            ];
            let name = missing
                .iter()
                .find(|(_, is_missing)| *is_missing)
                .map_or("VPUSH_IN", |(name, _)| *name);
            Err(ConfigError {
                name,
                value: String::new(),
                expected: "VPUSH_IN, VPUSH_URL and VPUSH_OUT set together".into(),
            })
        }
    }
}
