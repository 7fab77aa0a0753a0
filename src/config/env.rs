//! Reading variables: the lookup, and one parser per kind of value.

use std::ops::RangeInclusive;
use std::time::Duration;

use switchyard_actors::gateway::routing::is_list_name;
use switchyard_actors::http::address::{is_host_port, is_server_url};

use super::ConfigError;

/// The environment, as a lookup function.
pub struct Env<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// `None` when the variable is unset or blank; an error naming it when `parse` refuses it.
    pub fn parsed<T>(
        &self,
        name: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        self.parsed_or_why(name, expected, |value| parse(value).ok_or_else(String::new))
    }

    /// As [`Self::parsed`], with `parse` saying what is wrong (never quoting the value: it may
    /// be a secret's).
    pub fn parsed_or_why<T>(
        &self,
        name: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = (self.0)(name).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        match parse(value.trim()) {
            Ok(parsed) => Ok(Some(parsed)),
            Err(why) => Err(ConfigError::new(
                name,
                value,
                if why.is_empty() {
                    expected.into()
                } else {
                    format!("{expected} ({why})").into()
                },
            )),
        }
    }
}

/// A duration given in whole milliseconds, above 0.
pub fn millis(raw: &str) -> Option<Duration> {
    positive::<u64>(raw).map(Duration::from_millis)
}

/// A duration given in whole seconds, above 0.
pub fn secs(raw: &str) -> Option<Duration> {
    positive::<u64>(raw).map(Duration::from_secs)
}

/// A port to listen on; 0 lets the system pick one.
pub fn port(raw: &str) -> Option<u16> {
    raw.parse().ok()
}

/// A number above zero.
pub fn positive<T: std::str::FromStr + PartialOrd + Default>(raw: &str) -> Option<T> {
    raw.parse().ok().filter(|n| *n > T::default())
}

/// A number within `range`.
pub fn within<T: std::str::FromStr + PartialOrd>(
    range: RangeInclusive<T>,
) -> impl Fn(&str) -> Option<T> {
    move |raw| raw.parse().ok().filter(|n| range.contains(n))
}

/// `http://host:port`, without a trailing slash.
pub fn parse_http_url(raw: &str) -> Option<String> {
    let url = raw.trim_end_matches('/');
    is_server_url(url).then(|| url.to_owned())
}

/// `FIRST-LAST` (or one port), ports above 0, FIRST not above LAST.
pub fn parse_ports(raw: &str) -> Option<RangeInclusive<u16>> {
    let (first, last) = raw.split_once('-').unwrap_or((raw, raw));
    let (first, last): (u16, u16) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first > 0 && first <= last).then_some(first..=last)
}

pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `host:port` (see [`is_host_port`]).
pub fn parse_host_port(raw: &str) -> Option<String> {
    is_host_port(raw).then(|| raw.to_owned())
}

/// A list or hash name, taken under `REDIS_PREFIX`.
pub fn list_name(raw: &str) -> Option<String> {
    is_list_name(raw).then(|| raw.to_owned())
}

/// Names separated by commas, at least one, none repeated.
pub fn list_names(raw: &str) -> Option<Vec<String>> {
    let names: Vec<String> = raw
        .split(',')
        .map(|n| list_name(n.trim()))
        .collect::<Option<_>>()?;
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    (unique.len() == names.len()).then_some(names)
}

/// A directory that exists.
pub fn directory(raw: &str) -> Option<std::path::PathBuf> {
    let path = std::path::PathBuf::from(raw);
    path.is_dir().then_some(path)
}
