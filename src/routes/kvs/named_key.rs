//! Where a request names its key. `/kvs/<key>` names it in the path; the course's later clients
//! (dialects with `KEY_FIELD`) name it as a `key` field instead: in the query string
//! (`GET /kvs?key=foo`, and a PUT may too) or in a PUT's form body beside `value`. A key named
//! in two places is refused, never one of them picked.

use std::borrow::Cow;

use actix_web::HttpRequest;
use switchyard_actors::kvs::keyvalue::{Key, KeyError, Value};

use super::dialect::Dialect;
use super::form::{find_field, find_fields, value_of};
use crate::error::ApiError;

/// The field that carries the key.
const KEY: &[u8] = b"key";
/// The form field that carries the value when the key is in the path.
const VAL: &[u8] = b"val";
/// The form field that carries the value when the key is a field.
const VALUE: &[u8] = b"value";

/// The key a request names before its body is read, checked.
#[derive(Debug)]
pub enum NamedKey {
    /// In the path: the value is the form's `val`.
    Path(Key),
    /// In the query's `key` field: the value is the form's `value`.
    Query(Key),
    /// Neither, in a dialect with `KEY_FIELD`: only a PUT's form can still name it.
    Unnamed,
}

impl NamedKey {
    /// The path's key, or the query's `key` field (dialects with `KEY_FIELD`; the query is
    /// decoded as strictly as a form). A bad key is refused here, before any body is read.
    pub fn of<D: Dialect>(req: &HttpRequest) -> Result<Self, ApiError> {
        let rest = req.match_info().unprocessed();
        let path = rest.strip_prefix('/').unwrap_or(rest);
        let query = if D::KEY_FIELD {
            find_field(req.query_string().as_bytes(), KEY)?
        } else {
            None
        };
        match (path.is_empty(), query) {
            (false, Some(_)) => Err(ApiError::KeyGivenTwice),
            (true, Some(raw)) => Ok(Self::Query(parse_key::<D>(&raw)?)),
            (true, None) if D::KEY_FIELD => Ok(Self::Unnamed),
            // A path without a key is "key not valid", as it always was.
            _ => Ok(Self::Path(parse_key::<D>(path.as_bytes())?)),
        }
    }

    /// The key of a GET or a DELETE, which have no form: unnamed is "key not valid", as a path
    /// without a key always was.
    pub fn key(self) -> Result<Key, KeyError> {
        match self {
            Self::Path(key) | Self::Query(key) => Ok(key),
            Self::Unnamed => Err(KeyError::NotValid),
        }
    }

    /// A PUT's key and value, with its form `body` read: the key checked before the value.
    pub fn with_form<D: Dialect>(self, body: &[u8]) -> Result<(Key, Value), ApiError> {
        let (key, value) = match self {
            Self::Path(key) if !D::KEY_FIELD => {
                let [value] = find_fields(body, [VAL])?;
                (key, value)
            }
            Self::Path(key) => (key, only_named_once(find_fields(body, [KEY, VAL])?)?),
            Self::Query(key) => (key, only_named_once(find_fields(body, [KEY, VALUE])?)?),
            Self::Unnamed => {
                let [key, value] = find_fields(body, [KEY, VALUE])?;
                (parse_key::<D>(&key.unwrap_or_default())?, value)
            }
        };
        Ok((key, value_of(value)?))
    }
}

/// The value field, when the form does not name the key again.
fn only_named_once(
    [key, value]: [Option<Cow<'_, [u8]>>; 2],
) -> Result<Option<Cow<'_, [u8]>>, ApiError> {
    match key {
        Some(_) => Err(ApiError::KeyGivenTwice),
        None => Ok(value),
    }
}

/// The dialect's length first (`KeyError::TooLong` whatever the characters), then `Key`'s rules;
/// bytes that are not UTF-8 are characters outside the key's charset.
fn parse_key<D: Dialect>(raw: &[u8]) -> Result<Key, KeyError> {
    if raw.len() > D::MAX_KEY_LEN {
        return Err(KeyError::TooLong);
    }
    Key::parse(std::str::from_utf8(raw).map_err(|_| KeyError::NotValid)?)
}
