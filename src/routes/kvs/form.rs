//! Reading a PUT's form body, strictly: a body that is not a well-formed
//! `application/x-www-form-urlencoded` form is refused rather than guessed at. The query
//! string's `key` field is read with the same decoder.

use std::borrow::Cow;

use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Bytes};
use switchyard_actors::error::ClientFault;
use switchyard_actors::http::headers::content_length;
use switchyard_actors::kvs::keyvalue::{Value, ValueError, MAX_VALUE_BYTES};

use crate::error::ApiError;

/// The largest form body read: a value of `MAX_VALUE_BYTES` may arrive fully percent-encoded
/// (three bytes each), plus room for the field name and a few other fields.
pub const MAX_FORM_BYTES: usize = 3 * MAX_VALUE_BYTES + 64 * 1024;

const FORM_MIME: &str = "application/x-www-form-urlencoded";

/// Reads the whole body, refusing one over `MAX_FORM_BYTES` without reading it all.
pub async fn read_form(headers: &HeaderMap, payload: web::Payload) -> Result<Bytes, ApiError> {
    check_content_type(headers)?;
    if content_length::<usize>(headers).is_some_and(|len| len > MAX_FORM_BYTES) {
        return Err(ValueError::TooLarge.into());
    }
    payload
        .to_bytes_limited(MAX_FORM_BYTES)
        .await
        .map_err(|_| ValueError::TooLarge)?
        .map_err(|err| {
            err.as_error::<PayloadError>()
                .map_or(ClientFault::Malformed.into(), ApiError::from)
        })
}

/// The value a form field carried: absent or empty is `Value`'s "missing", bytes that are not
/// UTF-8 are malformed.
pub fn value_of(field: Option<Cow<'_, [u8]>>) -> Result<Value, ApiError> {
    let field = field.unwrap_or_default();
    let text = std::str::from_utf8(&field).map_err(|_| ClientFault::Malformed)?;
    Ok(Value::new(text)?)
}

/// curl `-d` and HTML forms send the form type; a missing type is read as a form too.
fn check_content_type(headers: &HeaderMap) -> Result<(), ClientFault> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = content_type
        .to_str()
        .map_err(|_| ClientFault::Malformed)?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if essence.eq_ignore_ascii_case(FORM_MIME) {
        Ok(())
    } else {
        Err(ClientFault::Malformed)
    }
}

/// The decoded value of field `name`; a field given twice is ambiguous and refused.
pub fn find_field<'a>(body: &'a [u8], name: &[u8]) -> Result<Option<Cow<'a, [u8]>>, ClientFault> {
    let [found] = find_fields(body, [name])?;
    Ok(found)
}

/// The decoded values of the fields `names`, in one pass over the body (a value may be
/// megabytes long); any of them given twice is ambiguous and refused.
pub fn find_fields<'a, const N: usize>(
    body: &'a [u8],
    names: [&[u8]; N],
) -> Result<[Option<Cow<'a, [u8]>>; N], ClientFault> {
    let mut found = [const { None }; N];
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let name = decode(raw_name)?;
        let Some(slot) = names.iter().position(|n| **n == *name) else {
            continue;
        };
        if found[slot].is_some() {
            return Err(ClientFault::Malformed);
        }
        found[slot] = Some(decode(raw_value)?);
    }
    Ok(found)
}

/// Form decoding: `+` is a space, `%XX` a byte; any other `%` is malformed. Text with
/// neither is answered as it is, without a copy.
fn decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, ClientFault> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|&h| hex(h));
                let lo = bytes.next().and_then(|&l| hex(l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(ClientFault::Malformed),
                }
            }
            _ => out.push(b),
        }
    }
    Ok(Cow::Owned(out))
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(body: &[u8]) -> Result<Option<Vec<u8>>, ClientFault> {
        find_field(body, b"val").map(|found| found.map(Cow::into_owned))
    }

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let body = b"other=1&val=a+b%26c%3D%C3%A9";
        assert_eq!(val(body), Ok(Some("a b&c=é".as_bytes().to_vec())));
        assert_eq!(val(b"va%6C=plain"), Ok(Some(b"plain".to_vec())));
    }

    #[test]
    fn absent_and_empty_fields() {
        assert_eq!(val(b"other=1"), Ok(None));
        assert_eq!(val(b""), Ok(None));
        assert_eq!(val(b"val="), Ok(Some(vec![])));
        assert_eq!(val(b"val"), Ok(Some(vec![])));
    }

    #[test]
    fn refuses_what_it_cannot_read_unambiguously() {
        for body in [&b"val=%zz"[..], b"val=%4", b"val=1&val=2"] {
            assert_eq!(val(body), Err(ClientFault::Malformed));
        }
    }

    #[test]
    fn a_bad_escape_in_another_field_is_malformed_too() {
        assert_eq!(val(b"x%=1&val=2"), Err(ClientFault::Malformed));
    }

    #[test]
    fn an_escape_cut_short_at_the_end_is_malformed() {
        assert_eq!(val(b"val=abc%"), Err(ClientFault::Malformed));
        assert_eq!(val(b"val=abc%4"), Err(ClientFault::Malformed));
    }

    #[test]
    fn several_fields_are_found_in_one_pass_and_each_refused_when_given_twice() {
        let [key, value] = find_fields(b"value=a+b&x=1&key=k%5F1", [b"key", b"value"]).unwrap();
        assert_eq!(key.as_deref(), Some(&b"k_1"[..]));
        assert_eq!(value.as_deref(), Some(&b"a b"[..]));
        let [key, value] = find_fields(b"key=k", [b"key", b"value"]).unwrap();
        assert_eq!((key.as_deref(), value), (Some(&b"k"[..]), None));
        for body in [&b"key=a&value=1&key=b"[..], b"value=1&key=a&value=2"] {
            let twice = find_fields(body, [b"key", b"value"]);
            assert_eq!(twice, Err(ClientFault::Malformed));
        }
    }

    /// A form encoded by another implementation, for every byte there is.
    fn encoded(value: &[u8]) -> String {
        form_urlencoded::byte_serialize(value).collect()
    }

    proptest::proptest! {
        #[test]
        fn any_value_encoded_comes_back_whole(
            value in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            other in "[a-z+%0-9]{0,8}",
        ) {
            let body = format!("x={}&val={}&y=1", encoded(other.as_bytes()), encoded(&value));
            proptest::prop_assert_eq!(val(body.as_bytes()), Ok(Some(value)));
        }

        #[test]
        fn well_formed_forms_read_as_form_urlencoded_reads_them(
            fields in proptest::collection::vec(("[a-z]{1,3}", "\\PC{0,12}"), 0..6),
        ) {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&fields)
                .finish();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            for (name, _) in &fields {
                let values: Vec<&String> =
                    theirs.iter().filter(|(n, _)| n == name).map(|(_, v)| v).collect();
                let ours = find_field(body.as_bytes(), name.as_bytes());
                if values.len() == 1 {
                    proptest::prop_assert_eq!(ours, Ok(Some(Cow::Borrowed(values[0].as_bytes()))));
                } else {
                    // A name given twice is ambiguous: refused, never guessed at.
                    proptest::prop_assert_eq!(ours, Err(ClientFault::Malformed));
                }
            }
        }

        #[test]
        fn any_body_is_read_or_refused_never_a_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let read = val(&body);
            proptest::prop_assert!(read.is_ok() || read == Err(ClientFault::Malformed));
        }

        #[test]
        fn a_percent_not_followed_by_two_hex_digits_is_malformed(
            before in "[a-z0-9+]{0,8}",
            bad in "%[g-zG-Z_.~*-]|%[0-9a-fA-F][g-zG-Z_.~*-]",
            after in "[a-z0-9%+]{0,8}",
        ) {
            let body = format!("val={before}{bad}{after}");
            proptest::prop_assert_eq!(val(body.as_bytes()), Err(ClientFault::Malformed));
        }
    }
}
