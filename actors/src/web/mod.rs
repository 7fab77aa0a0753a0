//! The distributed web server's workers (docs/web-server.md): files ([`filer`], kept for as long
//! as [`expiry`]'s rules say) and pages ([`render`]) under a root directory that nothing they
//! answer may leave ([`confine`]).

pub mod confine;
pub mod expiry;
pub mod filer;
pub mod ndeploy;
pub mod render;
pub mod rquery;

use crate::gateway::message::{GatewayRequest, GatewayResponse};

/// A response to `request` with a JSON body `{"msg": "error", "error": <text>}` and any more
/// fields given.
fn error_response(
    request: &GatewayRequest,
    status: u16,
    text: &str,
    more: serde_json::Map<String, serde_json::Value>,
) -> GatewayResponse {
    let mut body = serde_json::Map::new();
    body.insert("msg".into(), "error".into());
    body.insert("error".into(), text.into());
    body.extend(more);
    GatewayResponse {
        id: request.id.clone(),
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::Value::Object(body).to_string().into_bytes(),
    }
}

/// The value of the request's first header named `name` (lower case).
fn header<'a>(request: &'a GatewayRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}
