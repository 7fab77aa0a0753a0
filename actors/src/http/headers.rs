//! Header handling shared by the proxy's relay and the HTTP routes.

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
