//! [`RedisConfig`]: where Redis is and how to reach it, from `REDIS_URL` (or `VPUSH_URL`), and
//! the key prefix, from `REDIS_PREFIX`. The forms are in docs/redis-topologies.md.

use super::tls::TlsRoots;
pub use super::url_parts::Address;
use super::url_parts::{address, credentials, database, decoded};

/// How the Redis switchyard speaks to is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server.
    Single(Address),
    /// The master that these sentinels name `master`.
    Sentinel {
        sentinels: Vec<Address>,
        master: String,
    },
    /// A Redis Cluster, found from these seed nodes.
    Cluster { seeds: Vec<Address> },
}

/// Where Redis is, how to reach it, and which keys are ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub topology: Topology,
    /// Set for the `rediss` forms: the certificates the server's must chain to.
    pub tls: Option<TlsRoots>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    pub prefix: String,
    /// The variable this came from, named when Redis cannot be reached.
    pub variable: &'static str,
    /// How many replicas must confirm a write switchyard acknowledges to someone (an upload, a
    /// vpush delivery) before it does: 1 behind sentinels, 0 (no `WAIT`) on one Redis.
    pub wait_replicas: u32,
}

const DEFAULT_PORT: u16 = 6379;
const DEFAULT_SENTINEL_PORT: u16 = 26379;

impl RedisConfig {
    /// `redis://127.0.0.1:6379`, database 0, no credentials: the default.
    pub fn local(prefix: &str) -> Self {
        Self {
            topology: Topology::Single(Address {
                host: "127.0.0.1".into(),
                port: DEFAULT_PORT,
            }),
            tls: None,
            username: None,
            password: None,
            db: 0,
            prefix: prefix.to_owned(),
            variable: "REDIS_URL",
            wait_replicas: 0,
        }
    }

    /// Parses any of the forms, TLS checked against the system's roots.
    pub fn from_url(raw: &str, prefix: &str) -> Result<Self, String> {
        Self::parse(raw, prefix, None)
    }

    /// Parses `scheme://[[user]:password@]hosts[/path]` (docs/redis-topologies.md); a `rediss`
    /// form trusts `roots` when given, the system's roots otherwise. The error says what is
    /// wrong.
    pub fn parse(raw: &str, prefix: &str, roots: Option<&TlsRoots>) -> Result<Self, String> {
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| {
            format!("not a URL: it must start with redis:// or another of {SCHEMES}")
        })?;
        let (tls, kind) = match scheme {
            "redis" => (false, Kind::Single),
            "rediss" => (true, Kind::Single),
            "redis-sentinel" => (false, Kind::Sentinel),
            "rediss-sentinel" => (true, Kind::Sentinel),
            "redis-cluster" => (false, Kind::Cluster),
            "rediss-cluster" => (true, Kind::Cluster),
            _ => {
                return Err(format!(
                    "it must start with redis:// or another of {SCHEMES}"
                ))
            }
        };
        if rest.contains(['?', '#']) {
            return Err("it has a query or fragment; none is read".into());
        }
        // The credentials end at the last `@`: a password may hold `/` (base64 does).
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((userinfo, rest)) => (Some(userinfo), rest),
            None => (None, rest),
        };
        let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (username, password) = credentials(userinfo)?;
        let default_port = match kind {
            Kind::Sentinel => DEFAULT_SENTINEL_PORT,
            _ => DEFAULT_PORT,
        };
        let addresses = hosts
            .split(',')
            .enumerate()
            .map(|(n, one)| address(one, n + 1, default_port))
            .collect::<Result<Vec<_>, _>>()?;
        let (topology, db) = match kind {
            Kind::Single => match <[Address; 1]>::try_from(addresses) {
                Ok([one]) => (Topology::Single(one), database(path)?),
                Err(_) => return Err("a redis:// URL names one host".into()),
            },
            Kind::Sentinel => {
                let (master, db) = path.split_once('/').unwrap_or((path, ""));
                if master.is_empty() {
                    return Err("it names no master (.../<master name>)".into());
                }
                let master = decoded(master)?;
                let topology = Topology::Sentinel {
                    sentinels: addresses,
                    master,
                };
                (topology, database(db)?)
            }
            Kind::Cluster => {
                if !path.is_empty() {
                    return Err("a cluster has only database 0; the URL names no path".into());
                }
                (Topology::Cluster { seeds: addresses }, 0)
            }
        };
        let tls = match (tls, roots) {
            (false, _) => None,
            (true, Some(roots)) => Some(roots.clone()),
            (true, None) => Some(TlsRoots::system()?),
        };
        let wait_replicas = match topology {
            Topology::Single(_) => 0,
            Topology::Sentinel { .. } | Topology::Cluster { .. } => 1,
        };
        Ok(Self {
            topology,
            tls,
            username,
            password,
            db,
            prefix: prefix.to_owned(),
            variable: "REDIS_URL",
            wait_replicas,
        })
    }

    /// The same, named `variable` when Redis cannot be reached.
    pub fn named(self, variable: &'static str) -> Self {
        Self { variable, ..self }
    }

    /// What the log names: the variable and the servers.
    pub fn describe(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let list = |all: &[Address]| {
            all.iter()
                .map(Address::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        match &self.topology {
            Topology::Single(one) => format!("{} ({scheme} at {one})", self.variable),
            Topology::Sentinel { sentinels, master } => format!(
                "{} ({scheme} master {master:?} of the sentinels at {})",
                self.variable,
                list(sentinels)
            ),
            Topology::Cluster { seeds } => format!(
                "{} ({scheme} cluster of the seeds {})",
                self.variable,
                list(seeds)
            ),
        }
    }
}

enum Kind {
    Single,
    Sentinel,
    Cluster,
}

const SCHEMES: &str =
    "redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster, rediss-cluster";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<RedisConfig, String> {
        RedisConfig::from_url(url, "p:")
    }

    fn at(host: &str, port: u16) -> Address {
        Address {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_host_port_password_and_db() {
        let config = parse("redis://:s%40cret@cache.local:6380/3").unwrap();
        assert_eq!(config.topology, Topology::Single(at("cache.local", 6380)));
        assert_eq!(config.username, None);
        assert_eq!(config.password.as_deref(), Some("s@cret"));
        assert_eq!(config.db, 3);
        assert!(config.tls.is_none());
    }

    #[test]
    fn the_default_is_the_local_redis() {
        assert_eq!(
            parse("redis://127.0.0.1:6379").unwrap(),
            RedisConfig::local("p:")
        );
    }

    #[test]
    fn defaults_port_and_db() {
        let config = parse("redis://127.0.0.1").unwrap();
        assert_eq!(config.topology, Topology::Single(at("127.0.0.1", 6379)));
        assert_eq!(config.db, 0);
        let config = parse("redis://user:pw@h:1/").unwrap();
        assert_eq!(config.username.as_deref(), Some("user"));
        assert_eq!(config.password.as_deref(), Some("pw"));
        assert_eq!(config.db, 0);
        let config = parse("redis://[::1]:7000").unwrap();
        assert_eq!(config.topology, Topology::Single(at("::1", 7000)));
    }

    #[test]
    fn sentinels_name_their_master() {
        let config = parse("redis-sentinel://:pw@s1,s2:26380,10.0.0.3:5000/mymaster/2").unwrap();
        let sentinels = vec![at("s1", 26379), at("s2", 26380), at("10.0.0.3", 5000)];
        assert_eq!(
            config.topology,
            Topology::Sentinel {
                sentinels,
                master: "mymaster".into()
            }
        );
        assert_eq!((config.password.as_deref(), config.db), (Some("pw"), 2));
        assert!(config.describe().contains("\"mymaster\""));
    }

    #[test]
    fn a_password_may_hold_a_slash() {
        let config = parse("redis://:ab/cd@h:7/2").unwrap();
        assert_eq!(config.password.as_deref(), Some("ab/cd"));
        assert_eq!(
            (config.topology, config.db),
            (Topology::Single(at("h", 7)), 2)
        );
    }

    #[test]
    fn cluster_seeds() {
        let config = parse("redis-cluster://n1:7000,n2:7001").unwrap();
        let seeds = vec![at("n1", 7000), at("n2", 7001)];
        assert_eq!(config.topology, Topology::Cluster { seeds });
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for url in [
            "http://h:1",
            "redis//h:1",
            "redis://:1",
            "redis://h:port",
            "redis://h:1/x",
            "redis://:%4@h",
            "redis://h:1,h:2",
            "redis://h:1?db=2",
            "redis-sentinel://s1:26379",
            "redis-sentinel://s1:26379/",
            "redis-sentinel://s1,,s2/m",
            "redis-sentinel://s1/m/x",
            "redis-cluster://n1:7000/1",
            "redis-cluster://",
            "redis://:pass/word@h:port",
        ] {
            // Refused, and never quoting what may be a password.
            let refused = parse(url).unwrap_err();
            assert!(
                !refused.contains("word") && !refused.contains("pass"),
                "{refused}"
            );
        }
    }
}
