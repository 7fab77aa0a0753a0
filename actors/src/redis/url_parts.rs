//! The parts of a Redis URL: hosts, database, credentials.

use std::fmt;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

/// One server's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `host[:port]`, a name, an IPv4 address or a bracketed IPv6 address.
/// Errors name the host by its place in the list, never by its text: a malformed URL may have
/// put part of a password there.
pub fn address(raw: &str, place: usize, default_port: u16) -> Result<Address, String> {
    if raw.is_empty() {
        return Err("it names no host".into());
    }
    // The url crate checks the host and the port as it would in any URL.
    let url = Url::parse(&format!("redis://{raw}"))
        .map_err(|err| format!("host {place} of the list: {err}"))?;
    let host = match url.host() {
        Some(Host::Domain(name)) if !name.is_empty() => name.to_owned(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(format!("host {place} of the list is empty")),
    };
    Ok(Address {
        host,
        port: url.port().unwrap_or(default_port),
    })
}

pub fn database(path: &str) -> Result<u32, String> {
    match path {
        "" => Ok(0),
        db => db
            .parse()
            .map_err(|_| "the database is not a number".into()),
    }
}

/// `[user]:password`, percent-encoded, or `user` alone (no password, as a URL reads it).
pub fn credentials(userinfo: Option<&str>) -> Result<(Option<String>, Option<String>), String> {
    let Some(userinfo) = userinfo else {
        return Ok((None, None));
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(decoded(password)?)),
        None => (userinfo, None),
    };
    let user = Some(decoded(user)?).filter(|user| !user.is_empty());
    Ok((user, password))
}

/// The URL keeps credentials percent-encoded; a `%` not followed by two hex digits is a
/// mistake (the decoder would keep it as it is).
pub fn decoded(raw: &str) -> Result<String, String> {
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
