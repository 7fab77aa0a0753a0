//! The address other machines use to reach this one, when `ADVERTISE_HOST` does not say.

use std::net::{IpAddr, ToSocketAddrs};

/// The address the host name resolves to (in a container: the container's address on its
/// network), else the first interface that is not loopback, else 127.0.0.1 with a warning.
/// Loopback is what `IP=0.0.0.0` used to advertise: two containers spawning on the same port
/// then registered the same URL.
pub fn reachable_address() -> String {
    let resolved = gethostname::gethostname()
        .into_string()
        .ok()
        .and_then(|name| (name.as_str(), 0).to_socket_addrs().ok())
        .into_iter()
        .flatten()
        .map(|addr| addr.ip());
    if let Some(ip) = preferred(resolved) {
        return url_host(ip);
    }
    let interfaces = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip());
    if let Some(ip) = preferred(interfaces) {
        return url_host(ip);
    }
    log::warn!("no address other than loopback found: advertising 127.0.0.1 (set ADVERTISE_HOST)");
    "127.0.0.1".to_owned()
}

/// `ip` as the host part of a URL: an IPv6 address goes in brackets.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The first IPv4 address others could reach, else the first such IPv6 one.
fn preferred(candidates: impl Iterator<Item = IpAddr>) -> Option<IpAddr> {
    let usable: Vec<IpAddr> = candidates
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip))
        .collect();
    let v4 = usable.iter().find(|ip| ip.is_ipv4());
    v4.or(usable.first()).copied()
}

/// An IPv6 link-local address needs a zone to be reached: no use in a URL.
fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_ipv4_and_skips_what_others_cannot_reach() {
        let candidates: Vec<IpAddr> = ["127.0.1.1", "fe80::1", "2001:db8::5", "10.0.0.7", "::1"]
            .iter()
            .map(|ip| ip.parse().unwrap())
            .collect();
        let picked = preferred(candidates.into_iter());
        assert_eq!(picked, Some("10.0.0.7".parse().unwrap()));
        let only_v6 = ["::1", "2001:db8::5"].iter().map(|ip| ip.parse().unwrap());
        assert_eq!(preferred(only_v6), Some("2001:db8::5".parse().unwrap()));
        let none = ["127.0.0.1", "0.0.0.0"]
            .iter()
            .map(|ip| ip.parse().unwrap());
        assert_eq!(preferred(none), None);
    }

    #[test]
    fn this_machine_has_an_address_to_advertise() {
        let host = reachable_address();
        let address: IpAddr = host.trim_matches(['[', ']']).parse().unwrap();
        assert!(!address.is_unspecified(), "{host}");
        assert_eq!(url_host("::1".parse().unwrap()), "[::1]");
    }
}
