//! `LoadBalancer`: picks the registered server for each proxied request, round robin, and
//! [`Relay`] carries the request there.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix::{Actor, Addr, Context, Handler, Message};
use awc::body::{BodyStream, SizedStream};
use awc::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use awc::http::Method;
use awc::{Client, ClientResponse, Connector};
use bytes::Bytes;
use futures_util::Stream;

use crate::error::ActorError;
use crate::server_list::ServerList;

/// A server that failed is left out of the rotation for this long.
const FAILED_SERVER_PAUSE: Duration = Duration::from_secs(2);

/// Connecting to a backend; a refused or unreachable one is passed over quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest a backend may take to start answering.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The next server in round-robin order, passing over paused ones (and `avoid`, the server
/// that just failed this request) while others remain.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, ActorError>")]
pub struct PickServer {
    pub avoid: Option<String>,
}

/// `url` refused or failed a request: pause it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReportFailure {
    pub url: String,
}

/// What all the `LoadBalancer`s of a process share, so that together they keep one rotation.
#[derive(Clone, Default)]
pub struct Rotation {
    next: Arc<AtomicUsize>,
    paused: Arc<Mutex<HashMap<String, Instant>>>,
}

/// Picks servers from the process's [`ServerList`]. Start one per worker thread (the pick is
/// then a message on the same thread), all with clones of one [`Rotation`].
pub struct LoadBalancer {
    servers: ServerList,
    rotation: Rotation,
}

impl LoadBalancer {
    pub fn new(servers: ServerList, rotation: Rotation) -> Self {
        Self { servers, rotation }
    }
}

impl Actor for LoadBalancer {
    type Context = Context<Self>;
}

impl Handler<PickServer> for LoadBalancer {
    type Result = Result<String, ActorError>;

    fn handle(&mut self, msg: PickServer, _: &mut Context<Self>) -> Self::Result {
        let servers = match self.servers.current() {
            Some(servers) if !servers.is_empty() => servers,
            Some(_) => return Err(ActorError::NoServers),
            None => return Err(ActorError::ServerListUnknown),
        };
        let now = Instant::now();
        let mut paused = self
            .rotation
            .paused
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        paused.retain(|_, until| *until > now);
        let usable = |url: &String| !paused.contains_key(url) && msg.avoid.as_ref() != Some(url);
        let start = self.rotation.next.fetch_add(1, Ordering::Relaxed);
        let picked = (0..servers.len())
            .map(|i| &servers[(start + i) % servers.len()])
            .find(|url| usable(url))
            // Every server is paused: better one of them than no answer.
            .unwrap_or(&servers[start % servers.len()]);
        Ok(picked.clone())
    }
}

impl Handler<ReportFailure> for LoadBalancer {
    type Result = ();

    fn handle(&mut self, msg: ReportFailure, _: &mut Context<Self>) {
        log::warn!(
            "{} failed a request; paused for {FAILED_SERVER_PAUSE:?}",
            msg.url
        );
        let mut paused = self
            .rotation
            .paused
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        paused.insert(msg.url, Instant::now() + FAILED_SERVER_PAUSE);
    }
}

/// The parts of a client's request a proxy passes on.
pub struct ProxiedRequest {
    pub method: Method,
    /// Path and query, e.g. `/kvs/foo?x=1`.
    pub path_and_query: String,
    pub headers: HeaderMap,
    /// The client's address, appended to `X-Forwarded-For`.
    pub client_ip: Option<IpAddr>,
}

/// Headers that belong to one connection, never passed on (RFC 9110, 7.6.1), with any that
/// the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

/// Carries proxied requests to the servers over kept-alive connections. `awc::Client` is not
/// `Send`: one per worker thread.
pub struct Relay {
    client: Client,
}

impl Default for Relay {
    fn default() -> Self {
        let connector = Connector::new().timeout(CONNECT_TIMEOUT);
        let client = Client::builder()
            .connector(connector)
            .timeout(ANSWER_TIMEOUT)
            .no_default_headers()
            .disable_redirects()
            .finish();
        Self { client }
    }
}

impl Relay {
    /// Sends `request` with `body` to the server a `balancer` picks. GET and HEAD, which carry
    /// no body to replay, are tried once more on the next server when the first fails;
    /// a failing server is reported and paused.
    pub async fn forward<S, E>(
        &self,
        balancer: &Addr<LoadBalancer>,
        request: ProxiedRequest,
        body: S,
    ) -> Result<ClientResponse, ActorError>
    where
        S: Stream<Item = Result<Bytes, E>> + 'static,
        E: Into<Box<dyn StdError>> + 'static,
    {
        let first = balancer.send(PickServer { avoid: None }).await??;
        let retryable = matches!(request.method, Method::GET | Method::HEAD);
        let failure = match self.send(&first, &request, Some(body)).await {
            Ok(response) => return Ok(response),
            Err(failure) => failure,
        };
        balancer.do_send(ReportFailure { url: first.clone() });
        if !retryable {
            return Err(ActorError::BackendFailed { reason: failure });
        }
        let second = balancer.send(PickServer { avoid: Some(first) }).await??;
        match self.send::<S, E>(&second, &request, None).await {
            Ok(response) => Ok(response),
            Err(reason) => {
                balancer.do_send(ReportFailure { url: second });
                Err(ActorError::BackendFailed { reason })
            }
        }
    }

    async fn send<S, E>(
        &self,
        server: &str,
        request: &ProxiedRequest,
        body: Option<S>,
    ) -> Result<ClientResponse, String>
    where
        S: Stream<Item = Result<Bytes, E>> + 'static,
        E: Into<Box<dyn StdError>> + 'static,
    {
        let url = format!("{server}{}", request.path_and_query);
        let mut outgoing = self.client.request(request.method.clone(), url);
        let mut headers = request.headers.clone();
        strip_hop_by_hop(&mut headers);
        let length = headers
            .remove(header::CONTENT_LENGTH)
            .next()
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        // The server's own name goes in `Host`, as awc sets it from the URL.
        headers.remove(header::HOST);
        for (name, value) in headers.iter() {
            outgoing = outgoing.append_header((name.clone(), value.clone()));
        }
        if let Some(ip) = request.client_ip {
            let forwarded = match request.headers.get("x-forwarded-for") {
                Some(earlier) => format!("{}, {ip}", earlier.to_str().unwrap_or_default()),
                None => ip.to_string(),
            };
            if let Ok(value) = HeaderValue::try_from(forwarded) {
                outgoing = outgoing.insert_header(("x-forwarded-for", value));
            }
        }
        let chunked = request.headers.contains_key(header::TRANSFER_ENCODING);
        let sent = match (body, length) {
            (Some(body), Some(length)) if length > 0 => {
                outgoing.send_body(SizedStream::new(length, body)).await
            }
            (Some(body), None) if chunked => outgoing.send_body(BodyStream::new(body)).await,
            _ => outgoing.send().await,
        };
        sent.map_err(|err| format!("{server}: {err}"))
    }
}
