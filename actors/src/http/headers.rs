//! Header handling shared by the proxy's client and the HTTP routes.

use std::net::IpAddr;
use std::str::FromStr;

use awc::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that belong to one connection, never passed on (RFC 9110, 7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The headers of `headers` a proxy passes on: all but the hop-by-hop ones, `Keep-Alive`,
/// those the `Connection` header names, and the ones in `also_skip` (which the proxy sets
/// itself).
pub fn end_to_end<'a>(
    headers: &'a HeaderMap,
    also_skip: &'a [HeaderName],
) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + 'a {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    headers.iter().filter(move |(name, _)| {
        !HOP_BY_HOP.contains(name)
            && name.as_str() != "keep-alive"
            && !also_skip.contains(name)
            && !named.contains(name)
    })
}

/// The `Content-Length` of a message, when it declares one that parses as `T`.
pub fn content_length<T: FromStr>(headers: &HeaderMap) -> Option<T> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// `X-Forwarded-For` with the client's address appended.
pub fn forwarded_for(headers: &HeaderMap, client: Option<IpAddr>) -> Option<HeaderValue> {
    let earlier = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let value = match (earlier, client) {
        (Some(earlier), Some(ip)) => format!("{earlier}, {ip}"),
        (None, Some(ip)) => ip.to_string(),
        (Some(earlier), None) => earlier.to_owned(),
        (None, None) => return None,
    };
    HeaderValue::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for &(name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn passed(map: &HeaderMap, also_skip: &[HeaderName]) -> Vec<String> {
        let mut names: Vec<String> = end_to_end(map, also_skip)
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn hop_by_hop_keep_alive_and_connection_named_headers_stay_behind() {
        let map = headers(&[
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("te", "trailers"),
            ("x-private", "secret"),
            ("cookie", "a=1"),
            ("accept", "text/html"),
        ]);
        assert_eq!(passed(&map, &[]), ["accept: text/html", "cookie: a=1"]);
    }

    #[test]
    fn every_value_of_a_repeated_header_passes_and_skipped_ones_do_not() {
        let map = headers(&[
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("host", "client.example"),
        ]);
        assert_eq!(
            passed(&map, &[header::HOST]),
            ["set-cookie: a=1", "set-cookie: b=2"]
        );
    }

    #[test]
    fn a_connection_header_naming_nonsense_drops_nothing_else() {
        let map = headers(&[("connection", "close, not a name"), ("accept", "*/*")]);
        assert_eq!(passed(&map, &[]), ["accept: */*"]);
    }

    #[test]
    fn content_length_parses_or_is_absent() {
        assert_eq!(
            content_length::<u64>(&headers(&[("content-length", "42")])),
            Some(42)
        );
        assert_eq!(
            content_length::<u64>(&headers(&[("content-length", "-1")])),
            None
        );
        assert_eq!(content_length::<u64>(&headers(&[])), None);
    }
}
