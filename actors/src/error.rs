//! The one error type every actor answers with. Each text a client may read is written here,
//! once, as the variant's `Display`; what caused it travels as the `source`, for the log.

use std::error::Error;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use thiserror::Error;

/// Why an actor could not carry out a message.
///
/// Outcomes a caller expects (a key that does not exist, a key that was replaced) are not errors:
/// they are part of each message's typed result.
#[derive(Debug, Error, Clone)]
pub enum ActorError {
    /// The main instance a forwarder relays to did not answer in time, refused the connection,
    /// or answered something that is not the key-value API.
    #[error("service is not available")]
    MainUnavailable(#[source] Cause),

    /// The store holds `KVS_MAX_BYTES` of keys and values: a new key, or a larger value, would
    /// pass it.
    #[error("store is full")]
    StoreFull,

    /// The image queue holds `IMAGE_QUEUE_MAX` images.
    #[error("image queue is full")]
    ImageQueueFull,

    /// Redis refused the connection, did not answer in time, or the connection broke.
    #[error("redis unavailable")]
    RedisUnavailable(#[source] Cause),

    /// Redis answered with an error (for example a key holding another type).
    #[error("redis error")]
    Redis(#[source] Cause),

    /// This instance already runs the most servers it may spawn.
    #[error("this instance already runs {max} spawned servers (SPAWN_MAX)")]
    SpawnLimit { max: usize },

    /// Every port of the spawn range is taken.
    #[error("no free port in SPAWN_PORTS {}-{}", .range.start(), .range.end())]
    NoFreePort { range: RangeInclusive<u16> },

    /// This instance has spawned no server it could destroy.
    #[error("this instance has spawned no server")]
    NothingToDestroy,

    /// Destroying would leave the registry empty.
    #[error("the last registered server is not destroyed")]
    LastServer,

    /// An actor this one relies on has stopped, or this one is stopping: the process is
    /// shutting down.
    #[error("server is shutting down")]
    ShuttingDown,

    /// No server is registered.
    #[error("no server is registered")]
    NoServers,

    /// The proxy has not yet read the registry (Redis has been down since it started).
    #[error("the server list is not known yet (redis unavailable)")]
    ServerListUnknown,

    /// The servers tried refused, failed or did not answer in time.
    #[error("no registered server answered")]
    BackendFailed(#[source] Cause),

    /// No gateway worker answered within `GATEWAY_TIMEOUT_MS`.
    #[error("no worker answered in time")]
    NoWorkerAnswered,

    /// The gateway's request queue holds `GATEWAY_QUEUE_MAX` requests.
    #[error("request queue is full")]
    RequestQueueFull,

    /// A gateway worker answered with a response that is not the documented format.
    #[error("a worker answered with a malformed response")]
    WorkerAnswerMalformed(#[source] Cause),

    /// Redis refused a read-only query (`/rquery`), e.g. a key holding another type: its words.
    #[error("{0}")]
    QueryRefused(String),

    /// An `/rquery` answer would pass a bound: the words say which.
    #[error("too large to answer: {0}")]
    AnswerTooLarge(String),

    /// The thread ran `RQUERY_MAX_INFLIGHT` queries for as long as this one waited.
    #[error("too many queries in progress: try again shortly")]
    TooManyQueries,

    /// The client's own request was at fault (on its way through the proxy, for example).
    #[error(transparent)]
    Client(#[from] ClientFault),
}

/// A request the client got wrong: its fault, never a server's.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ClientFault {
    /// The request or its body does not parse, or the body broke off.
    #[error("malformed request")]
    Malformed,
    /// The body stopped arriving for `CLIENT_TIMEOUT_MS` (or the proxy's timeout).
    #[error("request body timed out")]
    BodyTimedOut,
}

/// An actor asking another that has stopped: the process is shutting down.
impl From<actix::MailboxError> for ActorError {
    fn from(_: actix::MailboxError) -> Self {
        Self::ShuttingDown
    }
}

/// What caused a failure, kept for the log and never shown to a client: the error it came
/// from, or a description where there is no error value that may cross threads (awc's errors
/// are not `Send`; a timeout or an unexpected status is no error value at all).
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync>);

impl Cause {
    pub fn new(err: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(err))
    }

    pub fn described(description: impl fmt::Display) -> Self {
        Self(Arc::new(Described(description.to_string())))
    }

    /// This cause with `context` (what was being done, or with whom) in front.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self(Arc::new(WithContext {
            context: context.to_string(),
            source: self,
        }))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[derive(Debug, Error)]
#[error("{0}")]
struct Described(String);

#[derive(Debug, Error)]
#[error("{context}")]
struct WithContext {
    context: String,
    source: Cause,
}

/// An error and every source under it, as one line: `a: b: c`.
pub fn chain(err: &dyn Error) -> String {
    let mut line = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        // Some wrappers (an I/O error around a TLS one) say what their source says.
        let text = source.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = source.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_reads_the_text_and_the_log_reads_the_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = ActorError::RedisUnavailable(Cause::new(io).context("127.0.0.1:6379"));
        assert_eq!(err.to_string(), "redis unavailable");
        assert_eq!(chain(&err), "redis unavailable: 127.0.0.1:6379: refused");
    }

    #[test]
    fn a_client_fault_reads_the_same_wherever_it_arose() {
        let err = ActorError::from(ClientFault::BodyTimedOut);
        assert_eq!(err.to_string(), ClientFault::BodyTimedOut.to_string());
    }

    #[test]
    fn the_spawn_range_is_named() {
        let err = ActorError::NoFreePort { range: 3001..=3099 };
        assert_eq!(err.to_string(), "no free port in SPAWN_PORTS 3001-3099");
    }
}
