//! [`ProxyClient`]: the proxy's HTTP client, which carries a client's request to the server a
//! [`LoadBalancer`] picks and hands back the answer.
//!
//! Who failed decides what happens:
//! - the client (its body broke off or stalled): its own 4xx, no server is blamed;
//! - a server: it is reported (paused), and the request goes to the next server when that can
//!   do no harm: nothing was sent (the connection could not be made), or it is a GET or HEAD
//!   and its answer had not begun.

use std::cell::RefCell;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix::Addr;
use awc::body::{BodyStream, SizedStream};
use awc::error::SendRequestError;
use awc::http::header::{self, HeaderMap, HeaderName};
use awc::http::{Method, Uri};
use awc::{Client, ClientResponse, Connector};
use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{sleep_until, Instant};

use super::balancer::{LoadBalancer, PickServer, ReportFailure, ServerRecovered};
use super::server_list::Backend;
use crate::error::{ActorError, Cause, ClientFault};
use crate::http::headers::{content_length, end_to_end, forwarded_for};
use crate::http::idle_timeout::IdleTimeout;
use crate::IDLE_CONNECTION_LIFETIME;

/// Connecting to a backend; a refused or unreachable one is passed over quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Servers tried for one request at most.
const MAX_ATTEMPTS: usize = 3;

/// The parts of a client's request a proxy passes on.
pub struct ProxiedRequest {
    pub method: Method,
    /// Path and query, e.g. `/kvs/foo?x=1`: an origin-form target, checked by the caller.
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
pub struct ProxyClient {
    client: Client,
    timeout: Duration,
}

/// Why one attempt failed.
enum Failure {
    /// The client's body failed: it broke off, or stalled.
    Client(ClientFault),
    /// The connection to the server could not be made: nothing was sent.
    Connect(Cause),
    /// The server failed after the request began to go out.
    Server(Cause),
}

impl ProxyClient {
    /// `timeout` bounds a server's wait before it starts answering, counted from the last
    /// progress of the request's body, and every pause in the body of its answer.
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
        // The wait is bounded here instead (`attempt`): awc's timer would also count the time
        // a client takes to send its body.
        let client = Client::builder()
            .connector(connector)
            .disable_timeout()
            .no_default_headers()
            .disable_redirects()
            .finish();
        Self { client, timeout }
    }

    /// Sends `request` with `body` to the server a `balancer` picks, and to the next ones
    /// while that can do no harm (see the module's documentation).
    pub async fn forward<S>(
        &self,
        balancer: &Addr<LoadBalancer>,
        request: ProxiedRequest,
        body: S,
    ) -> Result<RelayedAnswer, ActorError>
    where
        S: Stream<Item = Result<Bytes, io::Error>> + Unpin + 'static,
    {
        let body = ClientBody::new(body);
        let idempotent = matches!(request.method, Method::GET | Method::HEAD);
        let mut tried = Vec::new();
        loop {
            let avoid = tried.clone();
            let picked = balancer.send(PickServer { avoid }).await??;
            let backend = picked.backend;
            let failure = match self.attempt(&backend, &request, &body).await {
                Ok(answer) => {
                    if picked.failing {
                        balancer.do_send(ServerRecovered { backend });
                    }
                    return Ok(IdleTimeout::new(answer, self.timeout));
                }
                Err(failure) => failure,
            };
            let (cause, retry) = match failure {
                Failure::Client(fault) => return Err(fault.into()),
                Failure::Connect(cause) => (cause, !body.started()),
                Failure::Server(cause) => (cause, idempotent && !body.started()),
            };
            let cause = cause.context(&backend);
            balancer.do_send(ReportFailure {
                backend: backend.clone(),
                cause: cause.clone(),
            });
            tried.push(backend);
            if !retry || tried.len() == MAX_ATTEMPTS {
                return Err(ActorError::BackendFailed(cause));
            }
        }
    }

    /// One try on `backend`: the answer's head, within the timeout counted from the last
    /// progress of the body.
    async fn attempt<S>(
        &self,
        backend: &Backend,
        request: &ProxiedRequest,
        body: &ClientBody<S>,
    ) -> Result<ClientResponse, Failure>
    where
        S: Stream<Item = Result<Bytes, io::Error>> + Unpin + 'static,
    {
        let uri = Uri::builder()
            .scheme("http")
            .authority(backend.authority())
            .path_and_query(request.path_and_query.as_str())
            .build()
            .map_err(|err| Failure::Server(Cause::new(err)))?;
        let mut outgoing = self.client.request(request.method.clone(), uri);
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
        if let Some(value) = forwarded_for(&request.headers, request.client_ip) {
            outgoing = outgoing.insert_header(("x-forwarded-for", value));
        }
        let length = content_length::<u64>(&request.headers);
        let chunked = request.headers.contains_key(header::TRANSFER_ENCODING);
        body.restart();
        let sent = match (length, chunked) {
            (Some(length), false) if length > 0 => {
                outgoing.send_body(SizedStream::new(length, body.share()))
            }
            (None, true) => outgoing.send_body(BodyStream::new(body.share())),
            _ => outgoing.send(),
        };
        let stalled = async {
            loop {
                let due = body.last_progress() + self.timeout;
                sleep_until(due).await;
                if body.last_progress() + self.timeout <= Instant::now() {
                    return;
                }
            }
        };
        tokio::select! {
            sent = sent => sent.map_err(|err| body.blame(err)),
            () = stalled => Err(body.blame_stall(self.timeout)),
        }
    }
}

/// The client's request body, shared by the attempts that may send it: one that could not
/// connect never took from it, so the next sends it whole. It remembers whether the client
/// failed it, and when it last moved.
struct ClientBody<S> {
    state: Rc<RefCell<BodyState<S>>>,
}

struct BodyState<S> {
    stream: S,
    /// A chunk was handed on: the body cannot be sent again.
    started: bool,
    /// The client's stream failed: it broke off or stalled.
    failed: Option<ClientFault>,
    /// Waiting on the client (not on the server to take what it has).
    awaiting_client: bool,
    last_progress: Instant,
}

impl<S> ClientBody<S> {
    fn new(stream: S) -> Self {
        Self {
            state: Rc::new(RefCell::new(BodyState {
                stream,
                started: false,
                failed: None,
                awaiting_client: false,
                last_progress: Instant::now(),
            })),
        }
    }

    fn share(&self) -> Self {
        Self {
            state: Rc::clone(&self.state),
        }
    }

    fn started(&self) -> bool {
        self.state.borrow().started
    }

    /// A new attempt begins: its timeout counts from now.
    fn restart(&self) {
        self.state.borrow_mut().last_progress = Instant::now();
    }

    fn last_progress(&self) -> Instant {
        self.state.borrow().last_progress
    }

    /// Whose fault `err` is: the client's when its body failed, else the server's.
    fn blame(&self, err: SendRequestError) -> Failure {
        if let Some(fault) = self.state.borrow().failed {
            return Failure::Client(fault);
        }
        // awc's errors are not `Send`: their words are kept.
        match err {
            SendRequestError::Connect(err) => Failure::Connect(Cause::described(err)),
            err => Failure::Server(Cause::described(err)),
        }
    }

    /// Nothing moved for `timeout`: the client's fault when the body was waiting on it.
    fn blame_stall(&self, timeout: Duration) -> Failure {
        let state = self.state.borrow();
        if state.started && state.awaiting_client {
            Failure::Client(ClientFault::BodyTimedOut)
        } else {
            Failure::Server(Cause::described(format_args!(
                "no answer within {timeout:?}"
            )))
        }
    }
}

impl<S> Stream for ClientBody<S>
where
    S: Stream<Item = Result<Bytes, io::Error>> + Unpin,
{
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.state.borrow_mut();
        let polled = Pin::new(&mut state.stream).poll_next(cx);
        state.awaiting_client = polled.is_pending();
        match &polled {
            Poll::Pending => {}
            Poll::Ready(Some(Err(err))) => {
                state.failed = Some(if err.kind() == io::ErrorKind::TimedOut {
                    ClientFault::BodyTimedOut
                } else {
                    ClientFault::Malformed
                });
            }
            Poll::Ready(Some(Ok(_))) => {
                state.started = true;
                state.last_progress = Instant::now();
            }
            // The whole body is out: the server's time to answer counts from now.
            Poll::Ready(None) => state.last_progress = Instant::now(),
        }
        polled
    }
}
