//! `ADMIN_TOKEN`: the routes that change the fleet take [`AdminAccess`], which holds only for a
//! request carrying the token as `Authorization: Bearer <token>`, or when no token is set.

use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// A secret: never printed, compared in constant time.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
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

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// The token the admin routes ask for; `None`: they are open. Shared as app data.
#[derive(Clone, Debug)]
pub struct AdminPolicy(pub Option<AdminToken>);

/// A request allowed to change the fleet. Take it as a handler argument.
pub struct AdminAccess;

impl FromRequest for AdminAccess {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // No policy configured is a start-up mistake: refuse rather than open.
        let allowed = match req.app_data::<web::Data<AdminPolicy>>() {
            Some(policy) => match &policy.0 {
                None => true,
                Some(token) => bearer(req).is_some_and(|offered| token.accepts(offered)),
            },
            None => false,
        };
        ready(if allowed {
            Ok(Self)
        } else {
            Err(ApiError::AdminTokenRequired)
        })
    }
}

/// The credentials of `Authorization: Bearer <token>` (the scheme's case does not matter).
fn bearer(req: &HttpRequest) -> Option<&[u8]> {
    let value = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_accepted() {
        let token = AdminToken::new("correct-horse-battery").unwrap();
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
        assert!(AdminToken::new("a b").is_none());
        assert!(AdminToken::new("").is_none());
        assert!(AdminToken::new("tök").is_none());
        assert!(AdminToken::new("abc").unwrap().is_short());
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
}
