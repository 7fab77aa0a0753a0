//! [`RedisConfig`]: where Redis is, from `REDIS_URL`, and the key prefix, from `REDIS_PREFIX`.

use percent_encoding::percent_decode_str;
use url::{Host, Url};

/// Where Redis is and which keys are ours, from `REDIS_URL` and `REDIS_PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    pub prefix: String,
}

impl RedisConfig {
    /// `redis://127.0.0.1:6379`, database 0, no credentials: the default.
    pub fn local(prefix: &str) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 6379,
            username: None,
            password: None,
            db: 0,
            prefix: prefix.to_owned(),
        }
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; the port defaults to 6379, the
    /// database to 0. The error says what is wrong.
    pub fn from_url(raw: &str, prefix: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|err| format!("not a URL: {err}"))?;
        if url.scheme() != "redis" {
            return Err("it must start with redis://".into());
        }
        let host = match url.host() {
            Some(Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("it names no host".into()),
        };
        let db = match url.path().trim_matches('/') {
            "" => 0,
            db => db.parse().map_err(|_| "the database is not a number")?,
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err("it has a query or fragment; none is read".into());
        }
        let username = Some(decoded(url.username())?).filter(|user| !user.is_empty());
        let password = url.password().map(decoded).transpose()?;
        Ok(Self {
            host,
            port: url.port().unwrap_or(6379),
            username,
            password,
            db,
            prefix: prefix.to_owned(),
        })
    }
}

/// The URL keeps credentials percent-encoded; a `%` not followed by two hex digits is a
/// mistake (the decoder would keep it as it is).
fn decoded(raw: &str) -> Result<String, String> {
    let escapes_ok = raw
        .split('%')
        .skip(1)
        .all(|after| after.len() >= 2 && after.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !escapes_ok {
        return Err("a bad %-escape".into());
    }
    percent_decode_str(raw)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| "credentials that are not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<RedisConfig, String> {
        RedisConfig::from_url(url, "p:")
    }

    #[test]
    fn parses_host_port_password_and_db() {
        let config = parse("redis://:s%40cret@cache.local:6380/3").unwrap();
        assert_eq!(config.host, "cache.local");
        assert_eq!(config.port, 6380);
        assert_eq!(config.username, None);
        assert_eq!(config.password.as_deref(), Some("s@cret"));
        assert_eq!(config.db, 3);
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
        assert_eq!((config.port, config.db), (6379, 0));
        let config = parse("redis://user:pw@h:1/").unwrap();
        assert_eq!(config.username.as_deref(), Some("user"));
        assert_eq!(config.db, 0);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for url in [
            "http://h:1",
            "redis://:1",
            "redis://h:port",
            "redis://h:1/x",
            "redis://:%4@h",
        ] {
            assert!(parse(url).is_err(), "{url}");
        }
    }
}
