//! Keys and values as the store accepts them: a `Key` or a `Value` that exists is valid, so the
//! actors never check input again.

use std::fmt;
use std::sync::Arc;

/// The longest key accepted, in characters (all of them ASCII).
pub const MAX_KEY_LEN: usize = 250;

/// The largest value accepted, in bytes after form decoding: 1.5 MiB.
pub const MAX_VALUE_BYTES: usize = 1_572_864;

/// A key: 1 to [`MAX_KEY_LEN`] characters of `[a-zA-Z0-9_]`, case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(Box<str>);

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Longer than [`MAX_KEY_LEN`] (or the dialect's own limit); checked before the characters.
    #[error("key too long")]
    TooLong,
    /// Empty, or a character outside `[a-zA-Z0-9_]`.
    #[error("key not valid")]
    NotValid,
}

impl Key {
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        if raw.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if raw.is_empty() || !raw.bytes().all(allowed) {
            return Err(KeyError::NotValid);
        }
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value: 1 to [`MAX_VALUE_BYTES`] bytes of UTF-8. Cloning it shares the text, so a GET does
/// not copy a large value while the store is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value(Arc<str>);

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("value is missing")]
    Empty,
    /// Over [`MAX_VALUE_BYTES`].
    #[error("value too large")]
    TooLarge,
}

impl Value {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        if text.is_empty() {
            return Err(ValueError::Empty);
        }
        if text.len() > MAX_VALUE_BYTES {
            return Err(ValueError::TooLarge);
        }
        Ok(Self(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shorthands for the actors' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn key(k: &str) -> Key {
        Key::parse(k).unwrap()
    }

    pub fn value(v: &str) -> Value {
        Value::new(v).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_accepts_the_full_charset_up_to_250_characters() {
        assert!(Key::parse("aZ09_").is_ok());
        assert_eq!(Key::parse(&"k".repeat(250)).unwrap().as_str().len(), 250);
    }

    #[test]
    fn key_length_is_checked_before_characters() {
        assert_eq!(Key::parse(&"-".repeat(251)), Err(KeyError::TooLong));
        assert_eq!(Key::parse("a-b"), Err(KeyError::NotValid));
        assert_eq!(Key::parse(""), Err(KeyError::NotValid));
        assert_eq!(Key::parse("é"), Err(KeyError::NotValid));
    }

    proptest::proptest! {
        #[test]
        fn a_key_is_accepted_exactly_when_its_length_and_characters_are_right(
            raw in "[a-zA-Z0-9_]{0,260}|[a-zA-Z0-9_ /.é-]{0,260}|\\PC{0,140}",
        ) {
            let charset = raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let expected = if raw.len() > MAX_KEY_LEN {
                Err(KeyError::TooLong)
            } else if raw.is_empty() || !charset {
                Err(KeyError::NotValid)
            } else {
                Ok(raw.as_str())
            };
            let parsed = Key::parse(&raw);
            proptest::prop_assert_eq!(parsed.as_ref().map(Key::as_str).map_err(|e| *e), expected);
        }

        #[test]
        fn a_value_is_accepted_exactly_when_it_is_1_to_max_bytes(
            len in proptest::prop_oneof![0..4usize, MAX_VALUE_BYTES - 2..MAX_VALUE_BYTES + 3],
            fill in "[a-zé\\x01]",
        ) {
            let text: String = fill.chars().cycle().take(len).collect();
            let expected = if text.is_empty() {
                Err(ValueError::Empty)
            } else if text.len() > MAX_VALUE_BYTES {
                Err(ValueError::TooLarge)
            } else {
                Ok(())
            };
            proptest::prop_assert_eq!(Value::new(&text).map(drop), expected);
        }
    }

    #[test]
    fn value_bounds() {
        assert_eq!(Value::new(""), Err(ValueError::Empty));
        assert!(Value::new(&"v".repeat(MAX_VALUE_BYTES)).is_ok());
        assert_eq!(
            Value::new(&"v".repeat(MAX_VALUE_BYTES + 1)),
            Err(ValueError::TooLarge)
        );
    }
}
