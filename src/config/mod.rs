//! Every environment variable switchyard reads, parsed and checked once at start.

mod env;
mod host;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use switchyard_actors::redis::RedisConfig;
use thiserror::Error;

use crate::routes::admin::AdminToken;
use env::{parse_bool, parse_host_port, parse_http_url, parse_ports, positive, within, Env};
pub use host::url_host;

const DEFAULT_REDIS_PREFIX: &str = "switchyard:";

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

#[derive(Debug, Clone)]
pub struct Config {
    /// `IP`: the address to bind.
    pub ip: IpAddr,
    /// `PORT`: the port to bind; 0 lets the system pick one.
    pub port: u16,
    /// From `MAINIP` and `ISMAIN`.
    pub role: Role,
    /// `FORWARD_TIMEOUT_MS`: the longest a forwarder waits for the main, connecting included.
    pub forward_timeout: Duration,
    /// `WORKERS`: HTTP worker threads; by default one per CPU core.
    pub workers: Option<usize>,
    /// `KVS_MAX_BYTES`: the most bytes of keys and values the main's store holds.
    pub kvs_max_bytes: usize,
    /// `REDIS_URL` and `REDIS_PREFIX`: where the cache, visits and queues live.
    pub redis: RedisConfig,
    /// `RECENT_SIZE`: how many visits `/recent` keeps, 1 to [`MAX_RECENT_SIZE`].
    pub recent_size: usize,
    /// `CACHE_TTL_SECS`: how long the `/set` message lives.
    pub cache_ttl: Duration,
    /// `IMAGE_MAX_BYTES`: the largest image `/upload` accepts.
    pub image_max_bytes: usize,
    /// `IMAGE_QUEUE_MAX`: the most images the queue holds.
    pub image_queue_max: usize,
    /// `UPLOADS_MAX`: the most uploads one process reads at once.
    pub uploads_max: usize,
    /// `SPAWN_PORTS`: the ports `/spawn` starts servers on, e.g. `3001-3099`.
    pub spawn_ports: RangeInclusive<u16>,
    /// `SPAWN_MAX`: the most servers one instance spawns.
    pub spawn_max: usize,
    /// `ADVERTISE_HOST`: the host in the URLs of spawned servers; by default `IP` when that is
    /// a specific address, else the address others can reach this machine on.
    pub advertise_host: String,
    /// `HEARTBEAT_MS`: how often registrations are renewed; one lapses after three.
    pub heartbeat: Duration,
    /// `REGISTER_URL`: when set, this instance registers itself under this URL (the address
    /// others use to reach it), e.g. `http://10.0.0.5:8080`.
    pub register_url: Option<String>,
    /// `PROXY_PORT`: when set, the instance also listens there as the load-balancing proxy.
    pub proxy_port: Option<u16>,
    /// `PROXY_TIMEOUT_MS`: the longest the proxy waits for a server to start answering, and
    /// for each next piece of an answer's body.
    pub proxy_timeout: Duration,
    /// `ADMIN_TOKEN`: when set, the routes that change the fleet need it as a bearer token.
    pub admin_token: Option<AdminToken>,
    /// `CLIENT_TIMEOUT_MS`: how long a client may take to send a request head, to let its body
    /// stall, or to leave an answer unread, on every listener.
    pub client_timeout: Duration,
    /// `MAX_CONNECTIONS`: the most client connections each listener holds open at once.
    pub max_connections: usize,
}

/// A variable whose value switchyard cannot use; the message names it and says what it expects.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{name}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ip: IpAddr::from([0, 0, 0, 0]),
            port: 8080,
            role: Role::Main,
            forward_timeout: Duration::from_millis(1500),
            workers: None,
            kvs_max_bytes: 1 << 30,
            redis: RedisConfig::local(DEFAULT_REDIS_PREFIX),
            recent_size: 5,
            cache_ttl: Duration::from_secs(10),
            image_max_bytes: 10 * 1024 * 1024,
            image_queue_max: 100,
            uploads_max: 8,
            spawn_ports: 3001..=3099,
            spawn_max: 16,
            advertise_host: "127.0.0.1".into(),
            heartbeat: Duration::from_secs(1),
            register_url: None,
            proxy_port: None,
            proxy_timeout: Duration::from_secs(30),
            admin_token: None,
            client_timeout: Duration::from_secs(10),
            max_connections: 25_000,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let env = Env(lookup);
        let ip = env
            .parsed("IP", "an IP address", |v| v.parse().ok())?
            .unwrap_or(d.ip);
        let is_main = env.parsed("ISMAIN", "true or false", parse_bool)?;
        let main = env.parsed("MAINIP", "host:port, e.g. 10.0.0.20:8080", parse_host_port)?;
        let role = match (is_main, main) {
            (Some(true), _) | (None, None) => Role::Main,
            (_, Some(main)) => Role::Forwarder { main },
            (Some(false), None) => {
                return Err(ConfigError {
                    name: "ISMAIN",
                    value: "false".into(),
                    expected: "MAINIP to be set as well on a forwarding instance",
                })
            }
        };
        let redis_prefix = env.parsed("REDIS_PREFIX", "a key prefix", |v| Some(v.to_owned()))?;
        let redis_prefix = redis_prefix.as_deref().unwrap_or(DEFAULT_REDIS_PREFIX);
        let redis = env
            .parsed(
                "REDIS_URL",
                "redis://[[user]:password@]host[:port][/db]",
                |v| RedisConfig::from_url(v, redis_prefix).ok(),
            )?
            .unwrap_or_else(|| RedisConfig {
                prefix: redis_prefix.to_owned(),
                ..d.redis
            });
        let advertise_host = env.parsed("ADVERTISE_HOST", "a host name or address", |v| {
            Some(v.to_owned()).filter(|h| !h.contains(['/', ' ', '#', '@']))
        })?;
        Ok(Self {
            ip,
            port: env.port("PORT")?.unwrap_or(d.port),
            role,
            forward_timeout: env
                .millis("FORWARD_TIMEOUT_MS")?
                .unwrap_or(d.forward_timeout),
            workers: env.parsed("WORKERS", "a number of threads above 0", positive)?,
            kvs_max_bytes: env
                .parsed("KVS_MAX_BYTES", "a number of bytes above 0", positive)?
                .unwrap_or(d.kvs_max_bytes),
            redis,
            recent_size: env
                .parsed(
                    "RECENT_SIZE",
                    "a number of visits from 1 to 1000",
                    within(1..=MAX_RECENT_SIZE),
                )?
                .unwrap_or(d.recent_size),
            cache_ttl: env
                .parsed("CACHE_TTL_SECS", "whole seconds above 0", positive)?
                .map_or(d.cache_ttl, Duration::from_secs),
            image_max_bytes: env
                .parsed("IMAGE_MAX_BYTES", "a number of bytes above 0", positive)?
                .unwrap_or(d.image_max_bytes),
            image_queue_max: env
                .parsed("IMAGE_QUEUE_MAX", "a number of images above 0", positive)?
                .unwrap_or(d.image_queue_max),
            uploads_max: env
                .parsed("UPLOADS_MAX", "a number of uploads above 0", positive)?
                .unwrap_or(d.uploads_max),
            spawn_ports: env
                .parsed("SPAWN_PORTS", "FIRST-LAST, e.g. 3001-3099", parse_ports)?
                .unwrap_or(d.spawn_ports),
            spawn_max: env
                .parsed("SPAWN_MAX", "a number of servers above 0", positive)?
                .unwrap_or(d.spawn_max),
            advertise_host: advertise_host.unwrap_or_else(|| {
                if ip.is_unspecified() {
                    host::reachable_address()
                } else {
                    url_host(ip)
                }
            }),
            heartbeat: env.millis("HEARTBEAT_MS")?.unwrap_or(d.heartbeat),
            register_url: env.parsed("REGISTER_URL", "http://host:port", parse_http_url)?,
            proxy_port: env.port("PROXY_PORT")?,
            proxy_timeout: env.millis("PROXY_TIMEOUT_MS")?.unwrap_or(d.proxy_timeout),
            admin_token: env.parsed(
                "ADMIN_TOKEN",
                "visible ASCII characters, no spaces",
                AdminToken::new,
            )?,
            client_timeout: env.millis("CLIENT_TIMEOUT_MS")?.unwrap_or(d.client_timeout),
            max_connections: env
                .parsed(
                    "MAX_CONNECTIONS",
                    "a number of connections above 0",
                    positive,
                )?
                .unwrap_or(d.max_connections),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_are_a_main_on_port_8080() {
        let c = config(&[]).unwrap();
        assert_eq!(c.role, Role::Main);
        assert_eq!(c.port, 8080);
        assert_eq!(c.ip.to_string(), "0.0.0.0");
    }

    #[test]
    fn mainip_makes_a_forwarder_unless_ismain_says_main() {
        let main = Role::Forwarder {
            main: "10.0.0.20:8080".into(),
        };
        assert_eq!(config(&[("MAINIP", "10.0.0.20:8080")]).unwrap().role, main);
        let forwarder = config(&[("MAINIP", "10.0.0.20:8080"), ("ISMAIN", "False")]);
        assert_eq!(forwarder.unwrap().role, main);
        for yes in ["true", "True", "1"] {
            let c = config(&[("MAINIP", "10.0.0.20:8080"), ("ISMAIN", yes)]).unwrap();
            assert_eq!(c.role, Role::Main);
        }
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases = [
            ("MAINIP", "10.0.0.20"),
            ("MAINIP", "10.0.0.20:http"),
            ("MAINIP", ":8080"),
            ("PORT", "abc"),
            ("PORT", "70000"),
            ("IP", "localhost"),
            ("ISMAIN", "maybe"),
            ("FORWARD_TIMEOUT_MS", "0"),
            ("WORKERS", "-1"),
            ("REDIS_URL", "localhost:6379"),
            ("RECENT_SIZE", "0"),
            ("CACHE_TTL_SECS", "1.5"),
            ("IMAGE_MAX_BYTES", "10MB"),
            ("SPAWN_PORTS", "3099-3001"),
            ("SPAWN_PORTS", "0-10"),
            ("SPAWN_PORTS", "a-b"),
            ("SPAWN_MAX", "0"),
            ("HEARTBEAT_MS", "soon"),
            ("REGISTER_URL", "10.0.0.5:8080"),
            ("PROXY_PORT", "http"),
            ("PROXY_TIMEOUT_MS", "0"),
            ("RECENT_SIZE", "1001"),
            ("RECENT_SIZE", "99999999999999999999999"),
            ("KVS_MAX_BYTES", "0"),
            ("IMAGE_QUEUE_MAX", "-5"),
            ("UPLOADS_MAX", "0"),
            ("CLIENT_TIMEOUT_MS", "0"),
            ("MAX_CONNECTIONS", "none"),
            ("ADMIN_TOKEN", "two words"),
            ("ADVERTISE_HOST", "user@host"),
        ];
        for (name, value) in cases {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{name}={value}");
            assert!(err.to_string().starts_with(name));
        }
    }

    #[test]
    fn redis_url_and_prefix() {
        let c = config(&[]).unwrap();
        assert_eq!((c.redis.host.as_str(), c.redis.port), ("127.0.0.1", 6379));
        assert_eq!(c.redis.prefix, "switchyard:");
        let c = config(&[("REDIS_PREFIX", "t1:")]).unwrap();
        assert_eq!(c.redis.prefix, "t1:");
        let c = config(&[
            ("REDIS_URL", "redis://:pw@r:7000/2"),
            ("REDIS_PREFIX", "t2:"),
        ])
        .unwrap();
        assert_eq!(
            (c.redis.port, c.redis.db, c.redis.prefix.as_str()),
            (7000, 2, "t2:")
        );
    }

    #[test]
    fn spawn_settings() {
        let c = config(&[]).unwrap();
        assert_eq!((c.spawn_ports, c.spawn_max), (3001..=3099, 16));
        // IP=0.0.0.0: an address others can reach, never the loopback every container has.
        assert!(
            !c.advertise_host.starts_with("127."),
            "{}",
            c.advertise_host
        );
        let c = config(&[("IP", "::1")]).unwrap();
        assert_eq!(c.advertise_host, "[::1]");
        let c = config(&[("SPAWN_PORTS", "4000"), ("IP", "10.1.2.3")]).unwrap();
        assert_eq!(
            (c.spawn_ports, c.advertise_host.as_str()),
            (4000..=4000, "10.1.2.3")
        );
        let c = config(&[("IP", "10.1.2.3"), ("ADVERTISE_HOST", "app.example")]).unwrap();
        assert_eq!(c.advertise_host, "app.example");
        let c = config(&[("REGISTER_URL", "http://10.0.0.5:8080/")]).unwrap();
        assert_eq!(c.register_url.as_deref(), Some("http://10.0.0.5:8080"));
    }

    #[test]
    fn proxy_settings() {
        let c = config(&[]).unwrap();
        assert_eq!(
            (c.proxy_port, c.proxy_timeout),
            (None, Duration::from_secs(30))
        );
        let c = config(&[("PROXY_PORT", "8081"), ("PROXY_TIMEOUT_MS", "2500")]).unwrap();
        assert_eq!(
            (c.proxy_port, c.proxy_timeout),
            (Some(8081), Duration::from_millis(2500))
        );
    }

    #[test]
    fn limits_have_defaults_and_bounds() {
        let c = config(&[]).unwrap();
        assert_eq!(c.kvs_max_bytes, 1 << 30);
        assert_eq!((c.image_queue_max, c.uploads_max), (100, 8));
        assert_eq!(c.client_timeout, Duration::from_secs(10));
        assert!(c.admin_token.is_none());
        let c = config(&[("RECENT_SIZE", "1000"), ("KVS_MAX_BYTES", "4096")]).unwrap();
        assert_eq!((c.recent_size, c.kvs_max_bytes), (1000, 4096));
    }

    #[test]
    fn the_admin_token_never_shows_in_debug_output() {
        let c = config(&[("ADMIN_TOKEN", "s3cret-t0ken-value")]).unwrap();
        assert!(c.admin_token.is_some());
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn a_forwarder_needs_mainip() {
        assert_eq!(config(&[("ISMAIN", "False")]).unwrap_err().name, "ISMAIN");
    }

    #[test]
    fn mainip_accepts_names_and_ipv6() {
        assert!(config(&[("MAINIP", "kvs-main:8080")]).is_ok());
        assert!(config(&[("MAINIP", "[::1]:8080")]).is_ok());
    }
}
