//! Requests to a [`TestApp`] and its answers, read whole; raw requests for what an HTTP client
//! would not send.

use awc::http::Method;
use serde_json::Value as Json;

use super::app::{TestApp, CLIENT_TIMEOUT};

/// One answer, read whole.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The `X-Served-By` header, empty when there was none.
    pub served_by: String,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Json {
        assert_eq!(
            self.content_type,
            "application/json",
            "body: {}",
            self.text()
        );
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, empty when there was none.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().expect("a text header"))
    }
}

impl TestApp {
    pub async fn request(&self, method: Method, path: &str, form: Option<&str>) -> Reply {
        let request = self.client.request(method, format!("{}{path}", self.base));
        let sent = match form {
            Some(body) => {
                request
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .send_body(body.to_owned())
                    .await
            }
            None => request.send().await,
        };
        read_reply(path, sent).await
    }

    /// Any request, with extra headers and a raw body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for &header in headers {
            request = request.insert_header(header);
        }
        let sent = request.send_body(body).await;
        read_reply(path, sent).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None).await
    }

    /// PUT with `val` form-encoded.
    pub async fn put_val(&self, path: &str, val: &str) -> Reply {
        let form = format!("val={}", form_encode(val));
        self.request(Method::PUT, path, Some(&form)).await
    }

    /// The value `/kvs` holds for `key`, or `None` when it answers 404.
    pub async fn stored(&self, key: &str) -> Option<String> {
        let reply = self.get(&format!("/kvs/{key}")).await;
        match reply.status {
            200 => Some(reply.json()["value"].as_str().expect("a value").to_owned()),
            404 => None,
            other => panic!("GET /kvs/{key} answered {other}: {}", reply.text()),
        }
    }
}

type Sent = Result<awc::ClientResponse, awc::error::SendRequestError>;

async fn read_reply(path: &str, sent: Sent) -> Reply {
    let mut response = sent.unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
    let body = response.body().limit(32 << 20).await.expect("a body");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, served_by) = (header("content-type"), header("x-served-by"));
    Reply {
        status: response.status().as_u16(),
        content_type,
        served_by,
        headers: response.headers().clone(),
        body: body.to_vec(),
    }
}

/// Percent-encodes every byte but ASCII letters and digits, as a strict client would.
pub fn form_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A connection to `base` that has sent `request` as it is (an HTTP client would write headers
/// of its own, and send a body whole); reads on it wait at most [`CLIENT_TIMEOUT`].
pub fn raw_request(base: &str, request: &[u8]) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    std::io::Write::write_all(&mut stream, request).unwrap();
    stream
}

/// The status line and body of `GET <target>`, sent as written (no client normalising it).
pub fn get_raw(base: &str, target: &str) -> (String, String) {
    let request = format!("GET {target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let mut stream = raw_request(base, request.as_bytes());
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}
