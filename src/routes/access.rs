//! Who may use which routes. `ADMIN_TOKEN`: the routes that change the fleet (or stop a
//! process) take [`AdminAccess`]. `MONITOR_TOKEN`: the routes that show the fleet (hosts, pids,
//! queue names, visits: `/status`, `/dashboard`, `/services`, `/listservers`, `/metrics`) take
//! [`MonitorAccess`]. Each holds for a request carrying its token, as `Authorization: Bearer
//! <token>` or as the password of `Basic` (what a browser sends for the dashboard), or when
//! that token is not set. The admin token also opens the monitoring routes.

use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What `ADMIN_TOKEN` guards, as the start-up warning names it.
pub const ADMIN_ROUTES: &str = "POST /spawn, POST /destroy and POST /services/<id>/stop";

/// What `MONITOR_TOKEN` guards.
pub const MONITOR_ROUTES: &str =
    "/status, /dashboard, /services, /listservers, /metrics and /messages";

/// A secret: never printed, compared in constant time.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Visible ASCII without spaces (what a bearer token may hold); `None` otherwise.
    pub fn new(raw: &str) -> Option<Self> {
        let visible = |b: u8| b.is_ascii_graphic();
        (!raw.is_empty() && raw.bytes().all(visible)).then(|| Self(raw.into()))
    }

    /// Whether `offered` is the token. The time taken does not depend on where they differ.
    fn accepts(&self, offered: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(offered).into()
    }

    /// Short tokens are easy to guess.
    pub fn is_short(&self) -> bool {
        self.0.len() < 16
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// The tokens the routes ask for; `None`: those routes are open. Shared as app data.
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    pub admin: Option<AccessToken>,
    pub monitor: Option<AccessToken>,
}

/// A request allowed to change the fleet. Take it as a handler argument.
pub struct AdminAccess;

/// A request allowed to see the fleet. Take it as a handler argument.
pub struct MonitorAccess;

impl FromRequest for AdminAccess {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let allowed = policy(req).is_some_and(|policy| match &policy.admin {
            None => true,
            Some(token) => bearer(req).is_some_and(|offered| token.accepts(offered)),
        });
        ready(if allowed {
            Ok(Self)
        } else {
            Err(ApiError::AdminTokenRequired)
        })
    }
}

impl FromRequest for MonitorAccess {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let allowed = policy(req).is_some_and(|policy| match &policy.monitor {
            None => true,
            Some(monitor) => credentials(req).is_some_and(|offered| {
                let admin = policy.admin.as_ref();
                monitor.accepts(&offered) || admin.is_some_and(|token| token.accepts(&offered))
            }),
        });
        ready(if allowed {
            Ok(Self)
        } else {
            Err(ApiError::MonitorTokenRequired)
        })
    }
}

/// Says at start which routes are open to anyone who reaches `port` for want of a token, and
/// which token is easy to guess.
pub fn warn_of_open_routes(admin: &Option<AccessToken>, monitor: &Option<AccessToken>, port: u16) {
    match admin {
        None => log::warn!(
            "ADMIN_TOKEN is not set: {ADMIN_ROUTES} are open to anyone who reaches port {port}"
        ),
        Some(token) if token.is_short() => {
            log::warn!("ADMIN_TOKEN is shorter than 16 characters: easy to guess")
        }
        Some(_) => {}
    }
    match monitor {
        None => log::info!(
            "MONITOR_TOKEN is not set: {MONITOR_ROUTES} show this fleet to anyone who reaches \
             port {port}"
        ),
        Some(token) if token.is_short() => {
            log::warn!("MONITOR_TOKEN is shorter than 16 characters: easy to guess")
        }
        Some(_) => {}
    }
}

/// The policy; none configured is a start-up mistake, and refuses rather than opens.
fn policy(req: &HttpRequest) -> Option<&AccessPolicy> {
    req.app_data::<web::Data<AccessPolicy>>()
        .map(|data| data.get_ref())
}

/// The credentials of `Authorization: Bearer <token>` (the scheme's case does not matter).
fn bearer(req: &HttpRequest) -> Option<&[u8]> {
    let value = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// A bearer token, or the password of `Authorization: Basic` (any user name).
fn credentials(req: &HttpRequest) -> Option<Vec<u8>> {
    if let Some(token) = bearer(req) {
        return Some(token.to_vec());
    }
    let value = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_accepted() {
        let token = AccessToken::new("correct-horse-battery").unwrap();
        assert!(token.accepts(b"correct-horse-battery"));
        for wrong in [
            &b""[..],
            b"correct-horse-batter",
            b"correct-horse-battery!",
            b"x",
        ] {
            assert!(!token.accepts(wrong));
        }
    }

    #[test]
    fn tokens_are_visible_ascii() {
        assert!(AccessToken::new("a b").is_none());
        assert!(AccessToken::new("").is_none());
        assert!(AccessToken::new("tök").is_none());
        assert!(AccessToken::new("abc").unwrap().is_short());
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "bEaReR  tok "))
            .to_http_request();
        assert_eq!(bearer(&req), Some(&b"tok"[..]));
        let basic = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic dG9r"))
            .to_http_request();
        assert_eq!(bearer(&basic), None);
    }

    #[test]
    fn basic_credentials_offer_their_password() {
        // "anyone:s3cret:with:colons"
        let req = actix_web::test::TestRequest::default()
            .insert_header((
                header::AUTHORIZATION,
                "basic YW55b25lOnMzY3JldDp3aXRoOmNvbG9ucw==",
            ))
            .to_http_request();
        assert_eq!(
            credentials(&req).as_deref(),
            Some(&b"s3cret:with:colons"[..])
        );
        for broken in ["Basic !!!", "Basic dG9r", "Digest x"] {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::AUTHORIZATION, broken))
                .to_http_request();
            assert_eq!(credentials(&req), None, "{broken}");
        }
    }
}
