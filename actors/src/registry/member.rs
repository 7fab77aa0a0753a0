//! A registration as the registry's sorted set holds it: `http://host:port#owner`, the URL of
//! an app server and, after `#`, the instance that registered it. Keyed by owner, two instances
//! that register the same URL (two containers spawning on the same port, both advertising
//! loopback) never remove each other's registration. An entry added by hand may be a bare URL.
//!
//! Whatever the registry holds is checked when read: only `http://host:port` (a host name, an
//! IPv4 address or a bracketed IPv6 one; a numeric port above 0; no user, path or query) is
//! ever connected to.

use std::collections::HashSet;

use crate::http::address::is_server_url;

/// The member that registers `url` for `owner`.
pub fn member(url: &str, owner: &str) -> String {
    format!("{url}#{owner}")
}

/// The URL a member registers, when the member is well formed.
pub fn url_of(member: &str) -> Option<&str> {
    let (url, owner) = match member.split_once('#') {
        Some((url, owner)) => (url, Some(owner)),
        None => (member, None),
    };
    let owner_ok = owner.is_none_or(|o| {
        !o.is_empty() && o.len() <= 64 && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (owner_ok && is_server_url(url)).then_some(url)
}

/// The URLs of `members`, oldest first, each once; malformed members are left out and handed
/// to `refuse`.
pub fn urls<'a>(members: &'a [String], mut refuse: impl FnMut(&'a str)) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    let mut urls = Vec::with_capacity(members.len());
    for member in members {
        match url_of(member) {
            Some(url) => {
                if seen.insert(url) {
                    urls.push(url);
                }
            }
            None => refuse(member),
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_names_its_url_and_owner() {
        let m = member("http://10.0.0.5:3001", "9f1c02ab");
        assert_eq!(m, "http://10.0.0.5:3001#9f1c02ab");
        assert_eq!(url_of(&m), Some("http://10.0.0.5:3001"));
        assert_eq!(url_of("http://app.local:80"), Some("http://app.local:80"));
        assert_eq!(url_of("http://[::1]:8080#a"), Some("http://[::1]:8080"));
    }

    #[test]
    fn anything_but_http_host_port_is_refused() {
        let refused = [
            "http://127.0.0.1:8080*",
            "http://127.0.0.1",
            "http://127.0.0.1:",
            "http://127.0.0.1:0",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:+80",
            "http://user:pw@127.0.0.1:80",
            "http://127.0.0.1:80/path",
            "http://127.0.0.1:80?q",
            "https://127.0.0.1:443",
            "http://[zz]:80",
            "http://:80",
            "http://127.0.0.1:80#",
            "http://127.0.0.1:80#owner with space",
            "127.0.0.1:80",
            "",
        ];
        for member in refused {
            assert_eq!(url_of(member), None, "{member}");
        }
    }

    #[test]
    fn urls_are_listed_once_in_order_and_refusals_reported() {
        let members: Vec<String> = [
            "http://a:1#x",
            "http://b:2#x",
            "http://a:1#y",
            "http://bad:1/p",
            "http://c:3",
        ]
        .iter()
        .map(|m| m.to_string())
        .collect();
        let mut refused = Vec::new();
        let urls = urls(&members, |m| refused.push(m));
        assert_eq!(urls, ["http://a:1", "http://b:2", "http://c:3"]);
        assert_eq!(refused, ["http://bad:1/p"]);
    }
}
