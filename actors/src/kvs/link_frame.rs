//! The frames of the link between a forwarder and the main (`/kvs-link`, a WebSocket; see
//! docs/forwarder-link.md). A WebSocket message carries one or more frames end to end, all
//! integers little-endian:
//! - request: `u32 id`, `u8 op` (1 GET, 2 PUT, 3 DELETE), `u8 key length`, key, and for a PUT
//!   `u32 value length`, value;
//! - answer: `u32 id`, `u8 outcome`, and for `Found` `u32 length`, value.
//!
//! Decoding checks everything a peer could get wrong: a key or value that the store would
//! refuse, a truncated frame, an unknown op or outcome. Either side closes the link on a
//! malformed message: no forwarder of this release sends one.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::keyvalue::{Key, Value, MAX_KEY_LEN, MAX_VALUE_BYTES};
use super::messages::{DeleteOutcome, PutOutcome};

/// The largest WebSocket message either side accepts: the frames a writer puts in one message
/// stop past [`MESSAGE_TARGET_BYTES`], so one frame with the largest value fits, with room.
pub const MAX_MESSAGE_BYTES: usize = MAX_VALUE_BYTES + MESSAGE_TARGET_BYTES + 1024;

/// A writer adds frames to a message until it holds this many bytes (one frame at least).
pub const MESSAGE_TARGET_BYTES: usize = 256 * 1024;

/// The most frames one message may carry: a writer stops adding frames here too.
pub const MAX_FRAMES_PER_MESSAGE: usize = 4096;

/// What a forwarder asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRequest {
    Get(Key),
    Put(Key, Value),
    Delete(Key),
}

/// What the main answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAnswer {
    Found(Value),
    NotFound,
    Put(PutOutcome),
    Deleted,
    StoreFull,
}

/// A message that no forwarder or main of this release would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed link frame: {0}")]
pub struct Malformed(&'static str);

const OP_GET: u8 = 1;
const OP_PUT: u8 = 2;
const OP_DELETE: u8 = 3;

const FOUND: u8 = 1;
const NOT_FOUND: u8 = 2;
const CREATED: u8 = 3;
const REPLACED: u8 = 4;
const DELETED: u8 = 5;
const STORE_FULL: u8 = 6;

impl LinkRequest {
    pub fn encode(&self, id: u32, out: &mut BytesMut) {
        let (op, key, value) = match self {
            Self::Get(key) => (OP_GET, key, None),
            Self::Put(key, value) => (OP_PUT, key, Some(value)),
            Self::Delete(key) => (OP_DELETE, key, None),
        };
        out.put_u32_le(id);
        out.put_u8(op);
        put_key(key, out);
        if let Some(value) = value {
            put_text(value.as_str(), out);
        }
    }

    /// Every request of `message`, at most [`MAX_FRAMES_PER_MESSAGE`].
    pub fn decode_all(mut message: Bytes) -> Result<Vec<(u32, Self)>, Malformed> {
        let mut requests = Vec::new();
        while let Some(request) = Self::decode(&mut message)? {
            if requests.len() == MAX_FRAMES_PER_MESSAGE {
                return Err(Malformed("too many frames in one message"));
            }
            requests.push(request);
        }
        Ok(requests)
    }

    /// The next request of `message`, or `None` at its end.
    pub fn decode(message: &mut Bytes) -> Result<Option<(u32, Self)>, Malformed> {
        if message.is_empty() {
            return Ok(None);
        }
        let id = take_u32(message)?;
        let op = take_u8(message)?;
        let key = take_key(message)?;
        let request = match op {
            OP_GET => Self::Get(key),
            OP_PUT => {
                let value = take_value(message)?;
                Self::Put(key, value)
            }
            OP_DELETE => Self::Delete(key),
            _ => return Err(Malformed("unknown op")),
        };
        Ok(Some((id, request)))
    }
}

impl LinkAnswer {
    pub fn encode(&self, id: u32, out: &mut BytesMut) {
        out.put_u32_le(id);
        match self {
            Self::Found(value) => {
                out.put_u8(FOUND);
                put_text(value.as_str(), out);
            }
            Self::NotFound => out.put_u8(NOT_FOUND),
            Self::Put(PutOutcome::Created) => out.put_u8(CREATED),
            Self::Put(PutOutcome::Replaced) => out.put_u8(REPLACED),
            Self::Deleted => out.put_u8(DELETED),
            Self::StoreFull => out.put_u8(STORE_FULL),
        }
    }

    /// The next answer of `message`, or `None` at its end.
    pub fn decode(message: &mut Bytes) -> Result<Option<(u32, Self)>, Malformed> {
        if message.is_empty() {
            return Ok(None);
        }
        let id = take_u32(message)?;
        let answer = match take_u8(message)? {
            FOUND => Self::Found(take_value(message)?),
            NOT_FOUND => Self::NotFound,
            CREATED => Self::Put(PutOutcome::Created),
            REPLACED => Self::Put(PutOutcome::Replaced),
            DELETED => Self::Deleted,
            STORE_FULL => Self::StoreFull,
            _ => return Err(Malformed("unknown outcome")),
        };
        Ok(Some((id, answer)))
    }

    pub fn of_delete(outcome: DeleteOutcome) -> Self {
        match outcome {
            DeleteOutcome::Deleted => Self::Deleted,
            DeleteOutcome::NotFound => Self::NotFound,
        }
    }
}

// A key's length fits its byte.
const _: () = assert!(MAX_KEY_LEN <= u8::MAX as usize);

fn put_key(key: &Key, out: &mut BytesMut) {
    out.put_u8(key.as_str().len() as u8);
    out.put_slice(key.as_str().as_bytes());
}

fn put_text(text: &str, out: &mut BytesMut) {
    // A value is at most MAX_VALUE_BYTES (1.5 MiB).
    out.put_u32_le(text.len() as u32);
    out.put_slice(text.as_bytes());
}

fn take_u8(message: &mut Bytes) -> Result<u8, Malformed> {
    message.try_get_u8().map_err(|_| Malformed("truncated"))
}

fn take_u32(message: &mut Bytes) -> Result<u32, Malformed> {
    message.try_get_u32_le().map_err(|_| Malformed("truncated"))
}

fn take_bytes(message: &mut Bytes, len: usize) -> Result<Bytes, Malformed> {
    if message.len() < len {
        return Err(Malformed("truncated"));
    }
    Ok(message.split_to(len))
}

fn take_key(message: &mut Bytes) -> Result<Key, Malformed> {
    let len = usize::from(take_u8(message)?);
    let raw = take_bytes(message, len)?;
    let raw = std::str::from_utf8(&raw).map_err(|_| Malformed("key not UTF-8"))?;
    Key::parse(raw).map_err(|_| Malformed("key refused"))
}

/// A length-prefixed value, its length checked against the value limit before it is read.
fn take_value(message: &mut Bytes) -> Result<Value, Malformed> {
    let len = take_u32(message)? as usize;
    if len > MAX_VALUE_BYTES {
        return Err(Malformed("value too long"));
    }
    let raw = take_bytes(message, len)?;
    let text = std::str::from_utf8(&raw).map_err(|_| Malformed("value not UTF-8"))?;
    Value::new(text).map_err(|_| Malformed("value refused"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> Key {
        Key::parse(raw).unwrap()
    }

    fn value(text: &str) -> Value {
        Value::new(text).unwrap()
    }

    fn requests() -> Vec<LinkRequest> {
        vec![
            LinkRequest::Get(key("a")),
            LinkRequest::Put(key(&"k".repeat(MAX_KEY_LEN)), value("é\u{0}\"x")),
            LinkRequest::Delete(key("Z_9")),
            LinkRequest::Put(key("big"), value(&"v".repeat(MAX_VALUE_BYTES))),
        ]
    }

    fn answers() -> Vec<LinkAnswer> {
        vec![
            LinkAnswer::Found(value("hello")),
            LinkAnswer::NotFound,
            LinkAnswer::Put(PutOutcome::Created),
            LinkAnswer::Put(PutOutcome::Replaced),
            LinkAnswer::Deleted,
            LinkAnswer::StoreFull,
        ]
    }

    #[test]
    fn requests_and_answers_come_back_as_they_went_in_several_to_a_message() {
        let mut out = BytesMut::new();
        for (id, request) in requests().iter().enumerate() {
            request.encode(id as u32 + 7, &mut out);
        }
        let mut message = out.freeze();
        let mut decoded = Vec::new();
        while let Some(frame) = LinkRequest::decode(&mut message).unwrap() {
            decoded.push(frame);
        }
        let expected: Vec<_> = requests()
            .into_iter()
            .enumerate()
            .map(|(id, request)| (id as u32 + 7, request))
            .collect();
        assert_eq!(decoded, expected);

        let mut out = BytesMut::new();
        for (id, answer) in answers().iter().enumerate() {
            answer.encode(u32::MAX - id as u32, &mut out);
        }
        let mut message = out.freeze();
        for (id, answer) in answers().into_iter().enumerate() {
            let frame = LinkAnswer::decode(&mut message).unwrap();
            assert_eq!(frame, Some((u32::MAX - id as u32, answer)));
        }
        assert_eq!(LinkAnswer::decode(&mut message).unwrap(), None);
    }

    #[test]
    fn every_truncation_of_a_frame_is_refused() {
        for request in requests().iter().take(3) {
            let mut out = BytesMut::new();
            request.encode(1, &mut out);
            for len in 1..out.len() {
                let mut cut = Bytes::copy_from_slice(&out[..len]);
                assert_eq!(
                    LinkRequest::decode(&mut cut),
                    Err(Malformed("truncated")),
                    "{request:?} cut at {len}"
                );
            }
        }
    }

    fn request_bytes(op: u8, key: &[u8], value: Option<(u32, &[u8])>) -> Bytes {
        let mut out = BytesMut::new();
        out.put_u32_le(1);
        out.put_u8(op);
        out.put_u8(key.len() as u8);
        out.put_slice(key);
        if let Some((len, bytes)) = value {
            out.put_u32_le(len);
            out.put_slice(bytes);
        }
        out.freeze()
    }

    #[test]
    fn what_the_store_would_refuse_is_refused() {
        let cases = [
            (request_bytes(9, b"a", None), "unknown op"),
            (request_bytes(OP_GET, b"", None), "key refused"),
            (request_bytes(OP_GET, b"a/b", None), "key refused"),
            (request_bytes(OP_GET, &[0xff], None), "key not UTF-8"),
            (request_bytes(OP_PUT, b"a", Some((0, b""))), "value refused"),
            (
                request_bytes(OP_PUT, b"a", Some((1, &[0xc3]))),
                "value not UTF-8",
            ),
            // The length is checked before anything is read: no allocation follows it.
            (
                request_bytes(OP_PUT, b"a", Some((u32::MAX, b"x"))),
                "value too long",
            ),
        ];
        for (mut message, expected) in cases {
            assert_eq!(LinkRequest::decode(&mut message), Err(Malformed(expected)));
        }
        let mut unknown = Bytes::from_static(&[1, 0, 0, 0, 99]);
        assert_eq!(
            LinkAnswer::decode(&mut unknown),
            Err(Malformed("unknown outcome"))
        );
    }

    #[test]
    fn a_message_carries_a_bounded_number_of_frames() {
        let mut out = BytesMut::new();
        for id in 0..MAX_FRAMES_PER_MESSAGE as u32 {
            LinkRequest::Get(key("a")).encode(id, &mut out);
        }
        let full = out.clone().freeze();
        assert_eq!(
            LinkRequest::decode_all(full).unwrap().len(),
            MAX_FRAMES_PER_MESSAGE
        );
        LinkRequest::Get(key("a")).encode(0, &mut out);
        assert_eq!(
            LinkRequest::decode_all(out.freeze()),
            Err(Malformed("too many frames in one message"))
        );
    }

    #[test]
    fn the_largest_frame_fits_a_message() {
        let mut out = BytesMut::new();
        requests()[3].encode(1, &mut out);
        assert!(out.len() + MESSAGE_TARGET_BYTES <= MAX_MESSAGE_BYTES);
    }
}
