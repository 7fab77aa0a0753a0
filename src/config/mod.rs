//! Every environment variable switchyard reads, parsed and checked once at start.

mod cluster;
mod deploy_dir;
mod env;
mod filer;
mod hash;
mod host;
mod public;
mod redis;
pub mod takers;

use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use switchyard_actors::gateway::routing::RouteRules;
use switchyard_actors::gateway::tracking::RECORDED_WITHIN_MS;
use switchyard_actors::redis::{RedisConfig, DEFAULT_PUBLIC_NAMESPACE};
use thiserror::Error;

use crate::routes::access::AccessToken;
use env::{
    list_name, millis, parse_bool, parse_host_port, parse_http_url, parse_ports, port, positive,
    secs, within, Env,
};
pub use hash::load;
pub use host::url_host;
pub use takers::TakerSpec;

const DEFAULT_REDIS_PREFIX: &str = "switchyard:";

/// What `REDIS_URL` and `VPUSH_URL` take.
pub(crate) const REDIS_URL_FORM: &str = "redis[s]://[[user]:password@]host[:port][/db], \
    redis[s]-sentinel://[[user]:password@]host:port[,host:port...]/<master name>[/db] or \
    redis[s]-cluster://[[user]:password@]host:port[,host:port...]";

/// The variable naming a Redis hash the other variables may come from.
pub const CONFIG_HASH: &str = "CONFIG_HASH";

/// The most visits `RECENT_SIZE` may keep: each costs memory in every instance's buffer and a
/// bigger answer on every `/recent`.
pub const MAX_RECENT_SIZE: usize = 1000;

/// Which part this instance plays in the key-value store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Holds the store.
    Main,
    /// Relays every key-value request to the main at `host:port`.
    Forwarder { main: String },
}

/// The variables whose values may hold a secret (a password in a URL, a token): a refusal
/// names them and says what is wrong, and never shows their value.
const SECRET_VARIABLES: [&str; 4] = ["REDIS_URL", "VPUSH_URL", "ADMIN_TOKEN", "MONITOR_TOKEN"];

/// A variable whose value switchyard cannot use; the message names it and says what it expects.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{name}{} is not valid: expected {expected}", shown(name, value))]
pub struct ConfigError {
    pub name: &'static str,
    /// Empty for a secret's value ([`SECRET_VARIABLES`]): never kept.
    pub value: String,
    pub expected: Cow<'static, str>,
}

impl ConfigError {
    pub fn new(name: &'static str, value: String, expected: Cow<'static, str>) -> Self {
        let value = if SECRET_VARIABLES.contains(&name) {
            String::new()
        } else {
            value
        };
        Self {
            name,
            value,
            expected,
        }
    }
}

/// `="value"` as a refusal shows it; a secret's value is not shown.
fn shown(name: &str, value: &str) -> String {
    if SECRET_VARIABLES.contains(&name) {
        " (its value is not shown: it may hold a secret)".to_owned()
    } else {
        format!("={value:?}")
    }
}

/// The configuration: every variable is named once, in the table below, with its field, type,
/// default, what it expects and its parser. The fields read from more than one variable, or
/// that depend on another, are read by hand in [`Config::from_lookup`].
macro_rules! config {
    (
        read_by_hand { $( $(#[doc = $hdoc:literal])* $hfield:ident: $hty:ty = $hdefault:expr; )* }
        one_to_one { $(
            $(#[doc = $doc:literal])*
            $field:ident: $ty:ty = $default:expr, $var:literal, $expected:literal, $parse:expr;
        )* }
    ) => {
        #[derive(Debug, Clone)]
        pub struct Config {
            $( $(#[doc = $hdoc])* pub $hfield: $hty, )*
            $( #[doc = concat!("`", $var, "`:")] $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Default for Config {
            fn default() -> Self {
                Self {
                    $( $hfield: $hdefault, )*
                    $( $field: $default, )*
                }
            }
        }

        impl Config {
            /// The variables that map one to one onto a field: each that is set replaces the
            /// default.
            fn read_one_to_one<F: Fn(&str) -> Option<String>>(
                &mut self,
                env: &Env<F>,
            ) -> Result<(), ConfigError> {
                $( if let Some(value) = env.parsed($var, $expected, $parse)? {
                    self.$field = value.into();
                } )*
                Ok(())
            }
        }

        /// The variables read here; [`takers::VARIABLES`] has the takers'.
        const OWN_VARIABLES: &[&str] = &[
            "IP", "ISMAIN", "MAINIP", "REDIS_URL", "REDIS_PREFIX", "REDIS_CA_FILE",
            "REDIS_WAIT_REPLICAS", "ADVERTISE_HOST", "GATEWAY_ROUTES", CONFIG_HASH, $($var),*
        ];
    };
}

config! {
    read_by_hand {
        /// `IP`: the address to bind.
        ip: IpAddr = IpAddr::from([0, 0, 0, 0]);
        /// From `MAINIP` and `ISMAIN`.
        role: Role = Role::Main;
        /// `REDIS_URL` and `REDIS_PREFIX`: where the cache, visits, queues and registry live.
        redis: RedisConfig = RedisConfig::local(DEFAULT_REDIS_PREFIX);
        /// `ADVERTISE_HOST`: the host in the URLs of spawned servers; by default `IP` when that
        /// is a specific address, else the address others can reach this machine on.
        advertise_host: String = "127.0.0.1".into();
        /// `GATEWAY_ROUTES`: `regex=queue;...`, the queue of a request by its path.
        gateway_routes: RouteRules = RouteRules::default();
        /// What this process takes from Redis: gateway workers, router, filer, renderer,
        /// deployer, movers, vpush ([`takers`]).
        takers: Vec<TakerSpec> = Vec::new();
    }
    one_to_one {
        /// the port to bind; 0 lets the system pick one.
        port: u16 = 8080, "PORT", "a port number from 0 to 65535", port;
        /// the longest a forwarder waits for the main, connecting included.
        forward_timeout: Duration = Duration::from_millis(1500),
            "FORWARD_TIMEOUT_MS", "milliseconds above 0", millis;
        /// HTTP worker threads; by default one per CPU core.
        workers: Option<usize> = None, "WORKERS", "a number of threads above 0", positive::<usize>;
        /// the most bytes of keys and values the main's store holds.
        kvs_max_bytes: usize = 1 << 30, "KVS_MAX_BYTES", "a number of bytes above 0",
            positive::<usize>;
        /// how many visits `/recent` keeps, 1 to [`MAX_RECENT_SIZE`].
        recent_size: usize = 5, "RECENT_SIZE", "a number of visits from 1 to 1000",
            within(1..=MAX_RECENT_SIZE);
        /// how long the `/set` message lives.
        cache_ttl: Duration = Duration::from_secs(10), "CACHE_TTL_SECS", "whole seconds above 0",
            secs;
        /// the largest image `/upload` accepts.
        image_max_bytes: usize = 10 * 1024 * 1024, "IMAGE_MAX_BYTES", "a number of bytes above 0",
            positive::<usize>;
        /// the most images the queue holds.
        image_queue_max: usize = 100, "IMAGE_QUEUE_MAX", "a number of images above 0",
            positive::<usize>;
        /// the most uploads one process reads at once.
        uploads_max: usize = 8, "UPLOADS_MAX", "a number of uploads above 0", positive::<usize>;
        /// the ports `/spawn` starts servers on, e.g. `3001-3099`.
        spawn_ports: RangeInclusive<u16> = 3001..=3099, "SPAWN_PORTS",
            "FIRST-LAST, e.g. 3001-3099", parse_ports;
        /// the most servers one instance spawns.
        spawn_max: usize = 16, "SPAWN_MAX", "a number of servers above 0", positive::<usize>;
        /// how often registrations are renewed; one lapses after three.
        heartbeat: Duration = Duration::from_secs(1), "HEARTBEAT_MS", "milliseconds above 0",
            millis;
        /// when set, this instance registers itself under this URL (the address others use
        /// to reach it), e.g. `http://10.0.0.5:8080`.
        register_url: Option<String> = None, "REGISTER_URL", "http://host:port", parse_http_url;
        /// when set, the instance also listens there as the load-balancing proxy.
        proxy_port: Option<u16> = None, "PROXY_PORT", "a port number from 0 to 65535", port;
        /// the longest the proxy waits for a server to start answering, and for each next
        /// piece of an answer's body.
        proxy_timeout: Duration = Duration::from_secs(30), "PROXY_TIMEOUT_MS",
            "milliseconds above 0", millis;
        /// when set, the routes that change the fleet need it as a bearer token.
        admin_token: Option<AccessToken> = None, "ADMIN_TOKEN",
            "visible ASCII characters, no spaces", AccessToken::new;
        /// when set, the routes that show the fleet (`/status`, `/dashboard`, `/services`,
        /// `/listservers`, `/metrics`) need it (or the admin token), as a bearer token or the
        /// password of Basic authentication.
        monitor_token: Option<AccessToken> = None, "MONITOR_TOKEN",
            "visible ASCII characters, no spaces", AccessToken::new;
        /// how long a client may take to send a request head, to let its body stall, or to
        /// leave an answer unread, on every listener.
        client_timeout: Duration = Duration::from_secs(10), "CLIENT_TIMEOUT_MS",
            "milliseconds above 0", millis;
        /// the most client connections each listener holds open at once.
        max_connections: usize = 25_000, "MAX_CONNECTIONS", "a number of connections above 0",
            positive::<usize>;
        /// when set, the instance also listens there as the gateway.
        gateway_port: Option<u16> = None, "GATEWAY_PORT", "a port number from 0 to 65535", port;
        /// the list the gateway queues requests on (under `REDIS_PREFIX`) when no route
        /// matches.
        gateway_queue: String = "gateway:req".into(), "GATEWAY_QUEUE",
            "a list name of 1 to 200 visible characters", list_name;
        /// how long the gateway waits for a worker's answer.
        gateway_timeout: Duration = Duration::from_secs(5), "GATEWAY_TIMEOUT_MS",
            "milliseconds above 0", millis;
        /// the largest request body the gateway queues.
        gateway_max_body: usize = 1024 * 1024, "GATEWAY_MAX_BODY", "a number of bytes above 0",
            positive::<usize>;
        /// a request queue holding this many requests takes no more (503).
        gateway_queue_max: usize = 10_000, "GATEWAY_QUEUE_MAX", "a number of requests above 0",
            positive::<usize>;
        /// the keys `/rquery` and hrender's templates read, under `REDIS_PREFIX`: the only ones
        /// a client can reach. It may share no key with switchyard's own.
        public_namespace: String = DEFAULT_PUBLIC_NAMESPACE.into(), "PUBLIC_NAMESPACE",
            "a key namespace of 1 to 200 visible characters, e.g. public:", list_name;
        /// the most `/rquery` queries each HTTP thread runs at once; past it a query waits
        /// briefly, then 503.
        rquery_max_inflight: usize = 16, "RQUERY_MAX_INFLIGHT", "a number of queries above 0",
            positive::<usize>;
        /// when true, this instance may control the number of app servers `<prefix>replicas`
        /// declares (one such instance at a time).
        rcontrol: bool = false, "RCONTROL", "true or false", parse_bool;
        /// ndeploy: how long one deployment (clone, checkout, install) may take.
        ndeploy_timeout: Duration = Duration::from_secs(600), "NDEPLOY_TIMEOUT_S",
            "whole seconds above 0", secs;
        /// when true, each request through this instance's gateway is tracked: an id, a hash of
        /// its history, its timeout counted (docs/gateway.md#message-tracking).
        message_tracking: bool = false, "MESSAGE_TRACKING", "true or false", parse_bool;
        /// how long a tracked message's history is kept; at least `GATEWAY_TIMEOUT_MS` and a
        /// minute. Redis holds about 200 bytes per message for that long.
        message_expire: Duration = Duration::from_secs(600), "MESSAGE_EXPIRE_SECS",
            "whole seconds above 0", secs;
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let mut config = Self::default();
        config.read_one_to_one(&env)?;
        if let Some(ip) = env.parsed("IP", "an IP address", |v| v.parse().ok())? {
            config.ip = ip;
        }
        let is_main = env.parsed("ISMAIN", "true or false", parse_bool)?;
        let main = env.parsed("MAINIP", "host:port, e.g. 10.0.0.20:8080", parse_host_port)?;
        config.role = match (is_main, main) {
            (Some(true), _) | (None, None) => Role::Main,
            (_, Some(main)) => Role::Forwarder { main },
            (Some(false), None) => {
                return Err(ConfigError {
                    name: "ISMAIN",
                    value: "false".into(),
                    expected: "MAINIP to be set as well on a forwarding instance".into(),
                })
            }
        };
        if let Some(spec) = env.0("GATEWAY_ROUTES") {
            config.gateway_routes = RouteRules::parse(&spec).map_err(|bad| ConfigError {
                name: "GATEWAY_ROUTES",
                value: bad.rule,
                expected: "regex=queue rules separated by ';', each a valid regular expression"
                    .into(),
            })?;
        }
        let redis_prefix = env.parsed("REDIS_PREFIX", "a key prefix", |v| Some(v.to_owned()))?;
        let redis_prefix = redis_prefix.as_deref().unwrap_or(DEFAULT_REDIS_PREFIX);
        let roots = redis::read_roots(&env)?;
        config.redis = redis::read_url(&env, redis_prefix, roots.as_ref())?;
        config.takers = takers::read(&env, redis_prefix, roots.as_ref())?;
        redis::settle(&env, &mut config, roots.is_some())?;
        cluster::check(&config)?;
        let recorded_within = Duration::from_millis(RECORDED_WITHIN_MS);
        if config.message_expire < config.gateway_timeout + recorded_within {
            // A message's hash outlives its deadline long enough for the monitor to judge it
            // and for a late answer to be recorded on it.
            return Err(ConfigError::new(
                "MESSAGE_EXPIRE_SECS",
                config.message_expire.as_secs().to_string(),
                "seconds at least GATEWAY_TIMEOUT_MS plus 60 s".into(),
            ));
        }
        let advertise_host = env.parsed("ADVERTISE_HOST", "a host name or address", |v| {
            Some(v.to_owned()).filter(|h| !h.contains(['/', ' ', '#', '@']))
        })?;
        config.check_public_namespace(env.0(CONFIG_HASH).as_deref())?;
        config.advertise_host = advertise_host.unwrap_or_else(|| {
            if config.ip.is_unspecified() {
                host::reachable_address()
            } else {
                url_host(config.ip)
            }
        });
        Ok(config)
    }
}

/// Every variable switchyard reads.
pub fn variables() -> impl Iterator<Item = &'static str> {
    OWN_VARIABLES.iter().chain(takers::VARIABLES).copied()
}

#[cfg(test)]
mod tests;
