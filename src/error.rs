//! `ApiError`: every way a request can be refused or fail, its status, and its JSON body.
//!
//! The actors' errors pass through with their own texts ([`ActorError`]'s `Display`); the
//! texts here are for what only the HTTP layer sees. [`ApiError::status`] is the one mapping
//! from an error to a status and [`ApiError::respond`] the one place an error is logged.
//! `/kv-store` words some of these its own way (`routes/kvs/dialect.rs`).

use actix::MailboxError;
use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use switchyard_actors::error::{chain, ClientFault};
use switchyard_actors::kvs::keyvalue::{KeyError, ValueError};
use switchyard_actors::web::rquery::QueryError;
use switchyard_actors::ActorError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error(transparent)]
    Actor(#[from] ActorError),
    #[error(transparent)]
    Client(#[from] ClientFault),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Query(#[from] QueryError),
    /// `/rquery` with a command that is not one of the read-only ones.
    #[error("command not allowed: {0} (read-only commands only: GET, HGET, HGETALL, LRANGE, LLEN, SMEMBERS, SCARD, ZRANGE, ZCARD, TTL, TYPE, EXISTS)")]
    CommandNotAllowed(String),
    /// A percent-encoded path segment that is not UTF-8 once decoded.
    #[error("the path must be UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("key does not exist")]
    KeyNotFound,
    /// `/kvs` with its key in two places: the path, the query's `key` field, a PUT's form.
    #[error("key given twice: name it once, in the path or as one key field")]
    KeyGivenTwice,
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
    /// `/upload` while `UPLOADS_MAX` uploads are being read.
    #[error("too many uploads in progress: try again shortly")]
    TooManyUploads,
    /// `/meow` with nothing queued.
    #[error("no image in the queue")]
    NoImageQueued,
    /// A forwarder was sent a request another forwarder relayed: that one's `MAINIP` names a
    /// forwarder, not the main.
    #[error("this instance forwards too: MAINIP must name the main instance")]
    ForwardingLoop,
    /// `/kvs-link` without a WebSocket upgrade.
    #[error("/kvs-link takes a WebSocket upgrade, as forwarding instances send")]
    NotALinkUpgrade,
    /// The proxy relays only a path and query (origin form), never `*` or an absolute URL.
    #[error("the request target must be a path, e.g. /index.html")]
    NotOriginForm,
    /// No route serves this path.
    #[error("no such route")]
    NoSuchRoute,
    /// A route that changes the fleet, without the `ADMIN_TOKEN` (or with a wrong one).
    #[error("admin token required")]
    AdminTokenRequired,
    /// A route that shows the fleet, without the `MONITOR_TOKEN` (or the admin token).
    #[error("monitor token required")]
    MonitorTokenRequired,
    /// The gateway carries header values as JSON strings.
    #[error("header values must be UTF-8")]
    HeaderNotUtf8,
    /// `/services/<id>/stop` with an id that is not a number.
    #[error("a service id is a number")]
    BadServiceId,
    /// `/services/<id>/stop` for an id that is not live.
    #[error("no such service")]
    NoSuchService,
    /// A gateway request body over `GATEWAY_MAX_BODY`.
    #[error("request body too large (GATEWAY_MAX_BODY)")]
    BodyTooLarge,
    /// With tracking on, an `X-Request-Id` that cannot be kept as a message's xid.
    #[error("X-Request-Id must be 1 to 128 visible ASCII characters")]
    RequestIdNotValid,
    /// `/messages/<id>` with an id that is not a number, or `/messages` without `?xid=`.
    #[error("a message is found by its id, /messages/<id>, or by its xid, /messages?xid=<xid>")]
    BadMessageRef,
    /// No tracked message has this id or xid (never, or its history expired).
    #[error("no such message")]
    NoSuchMessage,
}

/// An actor that should answer is gone (its mailbox closed): the server is shutting down.
impl From<MailboxError> for ApiError {
    fn from(err: MailboxError) -> Self {
        Self::Actor(err.into())
    }
}

/// A request body that could not be read: the client's fault either way, a stall timed out
/// (408) or a body that broke off or does not parse (400).
impl From<&PayloadError> for ApiError {
    fn from(err: &PayloadError) -> Self {
        let cause = match err {
            PayloadError::Io(io) | PayloadError::Incomplete(Some(io)) => Some(io.kind()),
            _ => None,
        };
        Self::Client(if cause == Some(std::io::ErrorKind::TimedOut) {
            ClientFault::BodyTimedOut
        } else {
            ClientFault::Malformed
        })
    }
}

/// The standard error body; a struct keeps `msg` first, as the API documents it.
#[derive(Serialize)]
struct ErrorBody {
    msg: &'static str,
    error: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Actor(err) => actor_status(err),
            Self::Client(fault) => fault_status(*fault),
            Self::Key(_) | Self::Value(ValueError::Empty) | Self::ImageMissing => {
                StatusCode::BAD_REQUEST
            }
            Self::NotOriginForm
            | Self::NotALinkUpgrade
            | Self::HeaderNotUtf8
            | Self::BadServiceId
            | Self::RequestIdNotValid
            | Self::BadMessageRef
            | Self::KeyGivenTwice
            | Self::Query(_)
            | Self::NotUtf8 => StatusCode::BAD_REQUEST,
            Self::CommandNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Value(ValueError::TooLarge) | Self::ImageTooLarge | Self::BodyTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::NotAnImage | Self::NotMultipart => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::KeyNotFound
            | Self::NoMessage
            | Self::NoImageQueued
            | Self::NoSuchRoute
            | Self::NoSuchService
            | Self::NoSuchMessage => StatusCode::NOT_FOUND,
            Self::TooManyUploads => StatusCode::SERVICE_UNAVAILABLE,
            Self::ForwardingLoop => StatusCode::LOOP_DETECTED,
            Self::AdminTokenRequired | Self::MonitorTokenRequired => StatusCode::UNAUTHORIZED,
        }
    }

    /// The answer: `status` and `body` (an API's own wording of this error), the headers the
    /// error calls for, and a log line for the errors worth one.
    pub fn respond(&self, status: StatusCode, body: impl Serialize) -> HttpResponse {
        self.log();
        let mut response = HttpResponse::build(status);
        match self {
            // RFC 9110: a 401 names the scheme that would be accepted.
            Self::AdminTokenRequired => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            // Basic too, so a browser asks for the token (any user name) on /dashboard and
            // sends it again with the page's requests for /status.
            Self::MonitorTokenRequired => {
                response.append_header((header::WWW_AUTHENTICATE, "Bearer"));
                response.append_header((
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"switchyard monitoring\", charset=\"UTF-8\"",
                ));
            }
            Self::TooManyUploads
            | Self::Actor(ActorError::RequestQueueFull | ActorError::TooManyQueries) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(body)
    }

    /// Outages (of the main, of Redis) are logged by the link that saw them start and end, a
    /// failing proxied server by the balancer; here each request's failure only at debug. What
    /// no one else reports is logged above it.
    fn log(&self) {
        match self {
            Self::Actor(ActorError::Redis(_)) => log::error!("{}", chain(self)),
            // A worker, possibly in another language, that does not keep to docs/gateway.md.
            Self::Actor(ActorError::WorkerAnswerMalformed(_)) => log::warn!("{}", chain(self)),
            Self::Actor(
                ActorError::BackendFailed(_)
                | ActorError::MainUnavailable(_)
                | ActorError::RedisUnavailable(_)
                | ActorError::ShuttingDown
                | ActorError::NoWorkerAnswered
                | ActorError::Client(_),
            )
            | Self::Client(_) => log::debug!("{}", chain(self)),
            _ => {}
        }
    }
}

fn actor_status(err: &ActorError) -> StatusCode {
    match err {
        // The /kvs seed assignment's graders expect 404 when the main is down.
        ActorError::MainUnavailable(_) => StatusCode::NOT_FOUND,
        ActorError::StoreFull | ActorError::ImageQueueFull => StatusCode::INSUFFICIENT_STORAGE,
        ActorError::RedisUnavailable(_)
        | ActorError::ShuttingDown
        | ActorError::NoFreePort { .. }
        | ActorError::NoServers
        | ActorError::ServerListUnknown => StatusCode::SERVICE_UNAVAILABLE,
        ActorError::Redis(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ActorError::SpawnLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
        ActorError::NothingToDestroy | ActorError::LastServer => StatusCode::CONFLICT,
        ActorError::BackendFailed(_) | ActorError::WorkerAnswerMalformed(_) => {
            StatusCode::BAD_GATEWAY
        }
        ActorError::NoWorkerAnswered => StatusCode::GATEWAY_TIMEOUT,
        ActorError::QueryRefused(_) => StatusCode::BAD_REQUEST,
        ActorError::AnswerTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ActorError::TooManyQueries => StatusCode::SERVICE_UNAVAILABLE,
        ActorError::RequestQueueFull => StatusCode::SERVICE_UNAVAILABLE,
        ActorError::Client(fault) => fault_status(*fault),
    }
}

fn fault_status(fault: ClientFault) -> StatusCode {
    match fault {
        ClientFault::Malformed => StatusCode::BAD_REQUEST,
        ClientFault::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
    }
}

/// The house's wording, used by every route but `/kv-store`: `{"msg": "error", "error": ...}`.
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.respond(
            self.status(),
            ErrorBody {
                msg: "error",
                error: self.to_string(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_actors::error::Cause;

    #[test]
    fn an_actor_error_reads_as_its_own_text_and_keeps_its_cause_out_of_the_body() {
        let cause = Cause::described("connection refused");
        let err = ApiError::from(ActorError::RedisUnavailable(cause));
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.to_string(), "redis unavailable");
        assert_eq!(chain(&err), "redis unavailable: connection refused");
    }

    #[test]
    fn a_client_fault_has_one_status_wherever_it_arose() {
        for fault in [ClientFault::Malformed, ClientFault::BodyTimedOut] {
            let direct = ApiError::from(fault).status();
            let through_an_actor = ApiError::from(ActorError::from(fault)).status();
            assert_eq!(direct, through_an_actor);
        }
        assert_eq!(
            ApiError::from(ClientFault::BodyTimedOut).status(),
            StatusCode::REQUEST_TIMEOUT
        );
    }

    #[test]
    fn a_refused_admin_request_names_the_scheme() {
        let response = ApiError::AdminTokenRequired.error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
    }
}
