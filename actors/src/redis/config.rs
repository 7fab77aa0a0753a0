//! [`RedisConfig`]: where Redis is, from `REDIS_URL`, and the key prefix, from `REDIS_PREFIX`.

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
    /// Parses `redis://[[user]:password@]host[:port][/db]`; the port defaults to 6379, the
    /// database to 0. The error says what is wrong.
    pub fn from_url(url: &str, prefix: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or("it must start with redis://")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, address) = match authority.rsplit_once('@') {
            Some((credentials, address)) => (Some(credentials), address),
            None => (None, authority),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => {
                let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
                let user = (!user.is_empty())
                    .then(|| percent_decode(user))
                    .transpose()?;
                (user, Some(percent_decode(password)?))
            }
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| "the port is not a number")?),
            None => (address, 6379),
        };
        if host.is_empty() {
            return Err("it names no host".into());
        }
        let db = match path.trim_end_matches('/') {
            "" => 0,
            db => db.parse().map_err(|_| "the database is not a number")?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            username,
            password,
            db,
            prefix: prefix.to_owned(),
        })
    }
}

fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).ok_or("a bad %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a bad %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials that are not UTF-8".into())
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
