//! The one error type every actor answers with.

use thiserror::Error;

/// Why an actor could not carry out a message.
///
/// Outcomes a caller expects (a key that does not exist, a key that was replaced) are not errors:
/// they are part of each message's typed result.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ActorError {
    /// The instance this one relays to did not answer in time, refused the connection, or
    /// answered something that is not the key-value API.
    #[error("main instance unavailable: {reason}")]
    Unavailable { reason: String },

    /// The store holds `KVS_MAX_BYTES` of keys and values: a new key, or a larger value, would
    /// pass it.
    #[error("store is full")]
    StoreFull,

    /// The image queue holds `IMAGE_QUEUE_MAX` images.
    #[error("image queue is full")]
    ImageQueueFull,

    /// Redis refused the connection, did not answer in time, or the connection broke.
    #[error("redis unavailable: {reason}")]
    RedisUnavailable { reason: String },

    /// This instance already runs the most servers it may spawn.
    #[error("this instance already runs {max} spawned servers (SPAWN_MAX)")]
    SpawnLimit { max: usize },

    /// Every port of the spawn range is taken.
    #[error("no free port in SPAWN_PORTS {range}")]
    NoFreePort { range: String },

    /// This instance has spawned no server it could destroy.
    #[error("this instance has spawned no server")]
    NothingToDestroy,

    /// Destroying would leave the registry empty.
    #[error("the last registered server is not destroyed")]
    LastServer,

    /// An actor this one relies on has stopped.
    #[error("actor stopped: {reason}")]
    Stopped { reason: String },

    /// No server is registered.
    #[error("no server is registered")]
    NoServers,

    /// The proxy has not yet read the registry (Redis has been down since it started).
    #[error("the server list is not known yet")]
    ServerListUnknown,

    /// The client's request body broke off, or stalled (`timed_out`), on its way through the
    /// proxy: the client's fault, no server's.
    #[error("the request body failed")]
    ClientBodyFailed { timed_out: bool },

    /// The servers tried refused, failed or did not answer in time.
    #[error("no registered server answered: {reason}")]
    BackendFailed { reason: String },

    /// Redis answered with an error (for example a key holding another type).
    #[error("redis error: {reason}")]
    Redis { reason: String },
}

/// An actor asking another that has stopped: the process is shutting down.
impl From<actix::MailboxError> for ActorError {
    fn from(err: actix::MailboxError) -> Self {
        Self::Stopped {
            reason: err.to_string(),
        }
    }
}

impl ActorError {
    pub(crate) fn unavailable(reason: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            reason: reason.to_string(),
        }
    }
}
