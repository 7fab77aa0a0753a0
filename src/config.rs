//! Every environment variable switchyard reads, parsed and checked once at start.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use switchyard_actors::redis::RedisConfig;
use thiserror::Error;

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
const DEFAULT_REDIS_PREFIX: &str = "switchyard:";

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
    /// `REDIS_URL` and `REDIS_PREFIX`: where the cache, visits and queues live.
    pub redis: RedisConfig,
    /// `RECENT_SIZE`: how many visits `/recent` keeps.
    pub recent_size: usize,
    /// `CACHE_TTL_SECS`: how long the `/set` message lives.
    pub cache_ttl: Duration,
    /// `IMAGE_MAX_BYTES`: the largest image `/upload` accepts.
    pub image_max_bytes: usize,
    /// `SPAWN_PORTS`: the ports `/spawn` starts servers on, e.g. `3001-3099`.
    pub spawn_ports: RangeInclusive<u16>,
    /// `SPAWN_MAX`: the most servers one instance spawns.
    pub spawn_max: usize,
    /// `ADVERTISE_HOST`: the host in the URLs of spawned servers; by default `IP` when that is
    /// a specific address, else 127.0.0.1.
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
            redis: RedisConfig::from_url(DEFAULT_REDIS_URL, DEFAULT_REDIS_PREFIX)
                .expect("the default Redis URL is valid"),
            recent_size: 5,
            cache_ttl: Duration::from_secs(10),
            image_max_bytes: 10 * 1024 * 1024,
            spawn_ports: 3001..=3099,
            spawn_max: 16,
            advertise_host: "127.0.0.1".into(),
            heartbeat: Duration::from_secs(1),
            register_url: None,
            proxy_port: None,
            proxy_timeout: Duration::from_secs(30),
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
        let defaults = Self::default();
        let env = Env(lookup);
        let ip = env.parsed("IP", "an IP address", |v| v.parse().ok())?;
        let port = env.port("PORT")?;
        let is_main = env.parsed("ISMAIN", "true or false", parse_bool)?;
        let main = env.parsed("MAINIP", "host:port, e.g. 10.0.0.20:8080", parse_host_port)?;
        let forward_timeout = env.millis("FORWARD_TIMEOUT_MS")?;
        let workers = env.parsed("WORKERS", "a number of threads above 0", positive::<usize>)?;
        let redis_prefix = env.parsed("REDIS_PREFIX", "a key prefix", |v| Some(v.to_owned()))?;
        let redis_prefix = redis_prefix.as_deref().unwrap_or(DEFAULT_REDIS_PREFIX);
        let redis = env.parsed(
            "REDIS_URL",
            "redis://[[user]:password@]host[:port][/db]",
            |v| RedisConfig::from_url(v, redis_prefix).ok(),
        )?;
        let recent_size = env.parsed(
            "RECENT_SIZE",
            "a number of visits above 0",
            positive::<usize>,
        )?;
        let cache_ttl_secs =
            env.parsed("CACHE_TTL_SECS", "whole seconds above 0", positive::<u64>)?;
        let image_max_bytes = env.parsed(
            "IMAGE_MAX_BYTES",
            "a number of bytes above 0",
            positive::<usize>,
        )?;
        let spawn_ports = env.parsed("SPAWN_PORTS", "FIRST-LAST, e.g. 3001-3099", parse_ports)?;
        let spawn_max = env.parsed(
            "SPAWN_MAX",
            "a number of servers above 0",
            positive::<usize>,
        )?;
        let advertise_host = env.parsed("ADVERTISE_HOST", "a host name or address", |v| {
            Some(v.to_owned()).filter(|h| !h.contains(['/', ' ']))
        })?;
        let heartbeat = env.millis("HEARTBEAT_MS")?;
        let register_url = env.parsed("REGISTER_URL", "http://host:port", parse_http_url)?;
        let proxy_port = env.port("PROXY_PORT")?;
        let proxy_timeout = env.millis("PROXY_TIMEOUT_MS")?;
        let ip = ip.unwrap_or(defaults.ip);
        let advertise_host = advertise_host.unwrap_or_else(|| {
            if ip.is_unspecified() {
                defaults.advertise_host.clone()
            } else {
                ip.to_string()
            }
        });

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
        Ok(Self {
            ip,
            port: port.unwrap_or(defaults.port),
            role,
            forward_timeout: forward_timeout.unwrap_or(defaults.forward_timeout),
            workers,
            redis: match redis {
                Some(redis) => redis,
                None => RedisConfig {
                    prefix: redis_prefix.to_owned(),
                    ..defaults.redis
                },
            },
            recent_size: recent_size.unwrap_or(defaults.recent_size),
            cache_ttl: cache_ttl_secs
                .map(Duration::from_secs)
                .unwrap_or(defaults.cache_ttl),
            image_max_bytes: image_max_bytes.unwrap_or(defaults.image_max_bytes),
            spawn_ports: spawn_ports.unwrap_or(defaults.spawn_ports),
            spawn_max: spawn_max.unwrap_or(defaults.spawn_max),
            advertise_host,
            heartbeat: heartbeat.unwrap_or(defaults.heartbeat),
            register_url,
            proxy_port,
            proxy_timeout: proxy_timeout.unwrap_or(defaults.proxy_timeout),
        })
    }
}

/// The environment, as a lookup function.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// `None` when the variable is unset or blank; an error naming it when `parse` refuses it.
    fn parsed<T>(
        &self,
        name: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = (self.0)(name).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        match parse(value.trim()) {
            Some(parsed) => Ok(Some(parsed)),
            None => Err(ConfigError {
                name,
                value,
                expected,
            }),
        }
    }

    /// A duration given in whole milliseconds, above 0.
    fn millis(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        let millis = self.parsed(name, "milliseconds above 0", positive::<u64>)?;
        Ok(millis.map(Duration::from_millis))
    }

    /// A port to listen on; 0 lets the system pick one.
    fn port(&self, name: &'static str) -> Result<Option<u16>, ConfigError> {
        self.parsed(name, "a port number from 0 to 65535", |v| v.parse().ok())
    }
}

/// A number above zero.
fn positive<T: std::str::FromStr + PartialOrd + Default>(raw: &str) -> Option<T> {
    raw.parse().ok().filter(|n| *n > T::default())
}

/// `http://host:port`, without a trailing slash.
fn parse_http_url(raw: &str) -> Option<String> {
    let host_port = raw.strip_prefix("http://")?.trim_end_matches('/');
    parse_host_port(host_port).map(|hp| format!("http://{hp}"))
}

/// `FIRST-LAST` (or one port), ports above 0, FIRST not above LAST.
fn parse_ports(raw: &str) -> Option<RangeInclusive<u16>> {
    let (first, last) = raw.split_once('-').unwrap_or((raw, raw));
    let (first, last): (u16, u16) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first > 0 && first <= last).then_some(first..=last)
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `host:port` with a non-empty host (an IPv4 address, a name, or `[v6]`) and a port above 0.
fn parse_host_port(raw: &str) -> Option<String> {
    let (host, port) = raw.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    };
    (port > 0 && host_ok).then(|| raw.to_string())
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
        assert_eq!(c.advertise_host, "127.0.0.1");
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
    fn a_forwarder_needs_mainip() {
        assert_eq!(config(&[("ISMAIN", "False")]).unwrap_err().name, "ISMAIN");
    }

    #[test]
    fn mainip_accepts_names_and_ipv6() {
        assert!(config(&[("MAINIP", "kvs-main:8080")]).is_ok());
        assert!(config(&[("MAINIP", "[::1]:8080")]).is_ok());
    }
}
