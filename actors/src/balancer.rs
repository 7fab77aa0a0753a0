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
use crate::headers::{content_length, end_to_end};
use crate::idle_timeout::IdleTimeout;
use crate::server_list::ServerList;
use crate::IDLE_CONNECTION_LIFETIME;

/// A server that failed is left out of the rotation for this long.
const FAILED_SERVER_PAUSE: Duration = Duration::from_secs(2);

/// Connecting to a backend; a refused or unreachable one is passed over quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

/// A server's answer on its way back: status and headers from [`IdleTimeout::get_ref`], the
/// body by streaming it.
pub type RelayedAnswer = IdleTimeout<ClientResponse>;

/// Carries proxied requests to the servers over kept-alive connections. `awc::Client` is not
/// `Send`: one per worker thread.
pub struct Relay {
    client: Client,
    timeout: Duration,
}

impl Relay {
    /// `timeout` bounds a server's wait before it starts answering (sending the request
    /// included) and every pause in the body of its answer.
    pub fn new(timeout: Duration) -> Self {
        // No pool limit: awc queues a request for a pooled connection without a timeout, so
        // clients that never read their answers (each holding a backend connection until
        // `CLIENT_TIMEOUT_MS` cuts it off) would hold up everyone else past its default of 100.
        // Each client connection holds at most one backend connection, so the server's
        // connection limit bounds these.
        let connector = Connector::new()
            .timeout(CONNECT_TIMEOUT.min(timeout))
            .conn_keep_alive(IDLE_CONNECTION_LIFETIME)
            .limit(0);
        let client = Client::builder()
            .connector(connector)
            .timeout(timeout)
            .no_default_headers()
            .disable_redirects()
            .finish();
        Self { client, timeout }
    }

    /// Sends `request` with `body` to the server a `balancer` picks. GET and HEAD, which carry
    /// no body to replay, are tried once more on the next server when the first fails;
    /// a failing server is reported and paused.
    pub async fn forward<S, E>(
        &self,
        balancer: &Addr<LoadBalancer>,
        request: ProxiedRequest,
        body: S,
    ) -> Result<RelayedAnswer, ActorError>
    where
        S: Stream<Item = Result<Bytes, E>> + 'static,
        E: Into<Box<dyn StdError>> + 'static,
    {
        let first = balancer.send(PickServer { avoid: None }).await??;
        let answer = match self.send(&first, &request, Some(body)).await {
            Ok(answer) => answer,
            Err(reason) => {
                balancer.do_send(ReportFailure { url: first.clone() });
                if !matches!(request.method, Method::GET | Method::HEAD) {
                    return Err(ActorError::BackendFailed { reason });
                }
                let second = balancer.send(PickServer { avoid: Some(first) }).await??;
                let retried = self.send::<S, E>(&second, &request, None).await;
                retried.map_err(|reason| {
                    balancer.do_send(ReportFailure { url: second });
                    ActorError::BackendFailed { reason }
                })?
            }
        };
        Ok(IdleTimeout::new(answer, self.timeout))
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
        // The server's own name goes in `Host` (awc sets it from the URL); the length is the
        // body's, set below; `X-Forwarded-For` is extended below.
        let set_here = [
            header::HOST,
            header::CONTENT_LENGTH,
            HeaderName::from_static("x-forwarded-for"),
        ];
        for (name, value) in end_to_end(&request.headers, &set_here) {
            outgoing = outgoing.append_header((name.clone(), value.clone()));
        }
        let length = content_length::<u64>(&request.headers);
        let earlier = request.headers.get("x-forwarded-for");
        let forwarded = match (earlier.and_then(|v| v.to_str().ok()), request.client_ip) {
            (Some(earlier), Some(ip)) => Some(format!("{earlier}, {ip}")),
            (None, Some(ip)) => Some(ip.to_string()),
            (Some(earlier), None) => Some(earlier.to_owned()),
            (None, None) => None,
        };
        if let Some(value) = forwarded.and_then(|f| HeaderValue::try_from(f).ok()) {
            outgoing = outgoing.insert_header(("x-forwarded-for", value));
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
