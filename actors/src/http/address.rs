//! The one check of `host:port` and `http://host:port`: `MAINIP`, `REGISTER_URL` and every
//! registry entry go through it.

/// `host:port`: an IPv4 address or a name (letters, digits, `.`, `-`, `_` as Docker container
/// names have), or `[v6]`; a port of digits from 1 to 65535.
pub fn is_host_port(raw: &str) -> bool {
    let Some((host, port)) = raw.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        }
    };
    port_ok && host_ok
}

/// `http://host:port` and nothing more: no path, no user, no query.
pub fn is_server_url(url: &str) -> bool {
    url.strip_prefix("http://").is_some_and(is_host_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        for good in ["10.0.0.20:8080", "main:1", "kvs_main:8080", "[::1]:65535"] {
            assert!(is_host_port(good), "{good}");
        }
        let bad = [
            "10.0.0.20",
            "main:",
            ":80",
            "main:0",
            "main:65536",
            "main:+80",
            "[zz]:80",
            "a b:80",
            "user@main:80",
            "main:80/x",
        ];
        for bad in bad {
            assert!(!is_host_port(bad), "{bad}");
        }
    }
}
