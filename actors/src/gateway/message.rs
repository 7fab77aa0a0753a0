//! The two messages of the gateway protocol (docs/gateway.md): a request as the gateway queues
//! it, and a response as a worker pushes it back. Bodies travel as standard base64 with
//! padding, so any bytes do.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A client's HTTP request, queued for a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRequest {
    /// Unique across gateways: the gateway's id, `-`, a counter.
    pub id: String,
    pub method: String,
    /// As received, percent-encoding kept.
    pub path: String,
    /// As received, without the `?`; empty when there is none.
    #[serde(default)]
    pub query: String,
    /// Names in lower case, in order, repeated names kept.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, with = "base64_bytes")]
    pub body: Vec<u8>,
    /// The full Redis key of the list the response goes to.
    pub reply_to: String,
    /// Unix time in milliseconds after which nobody waits for the answer.
    pub deadline_ms: u64,
    /// The message's id when it is tracked (`MESSAGE_TRACKING`): its history is
    /// `<prefix>message:<track>`. Written by the gateway's push script, as the first field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u64>,
}

/// A worker's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, with = "base64_bytes")]
    pub body: Vec<u8>,
}

impl GatewayRequest {
    /// Whether nobody waits for the answer any more, by this machine's clock.
    pub fn is_past_deadline(&self) -> bool {
        unix_millis() > self.deadline_ms
    }

    /// Whether its answer, given now, may still be recorded on its tracked history (which is
    /// kept [`RECORDED_WITHIN_MS`](super::tracking::RECORDED_WITHIN_MS) past the deadline at
    /// least), by this machine's clock.
    pub fn may_record_answer(&self) -> bool {
        unix_millis() <= self.deadline_ms + super::tracking::RECORDED_WITHIN_MS
    }

    /// The request target: the path, and `?query` when there is one.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// The `id` of a response that does not parse whole, so its waiting client can be told.
pub fn id_of(raw: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct OnlyId {
        id: String,
    }
    serde_json::from_slice::<OnlyId>(raw)
        .ok()
        .map(|only| only.id)
}

mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_back_as_written_and_its_body_is_padded_base64() {
        let request = GatewayRequest {
            id: "ab-1".into(),
            method: "POST".into(),
            path: "/a%20b".into(),
            query: "x=%2F".into(),
            headers: vec![("host".into(), "h".into()), ("x".into(), "1".into())],
            body: vec![0, 255, 10],
            reply_to: "p:gateway:reply:ab".into(),
            deadline_ms: 5,
            track: None,
        };
        let json = serde_json::to_string(&request).unwrap();
        assert!(json.contains(r#""body":"AP8K""#), "{json}");
        assert!(
            json.contains(r#""headers":[["host","h"],["x","1"]]"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<GatewayRequest>(&json).unwrap(),
            request
        );
        assert_eq!(request.target(), "/a%20b?x=%2F");
        assert!(!json.contains("track"), "{json}");
    }

    #[test]
    fn a_tracked_request_carries_its_id_as_the_push_script_writes_it() {
        let json =
            r#"{"track":42,"id":"g-1","method":"GET","path":"/","reply_to":"r","deadline_ms":9}"#;
        let request: GatewayRequest = serde_json::from_str(json).unwrap();
        assert_eq!(request.track, Some(42));
    }

    #[test]
    fn a_response_with_a_body_that_is_not_base64_is_refused_but_its_id_is_found() {
        let raw = br#"{"id": "ab-2", "status": 200, "headers": [], "body": "no base64!"}"#;
        assert!(serde_json::from_slice::<GatewayResponse>(raw).is_err());
        assert_eq!(id_of(raw).as_deref(), Some("ab-2"));
        let minimal = br#"{"id": "ab-3", "status": 204}"#;
        let parsed = serde_json::from_slice::<GatewayResponse>(minimal).unwrap();
        assert!(parsed.body.is_empty() && parsed.headers.is_empty());
    }
}
