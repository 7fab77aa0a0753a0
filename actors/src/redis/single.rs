//! The one shared connection of a single Redis, or of the master a Sentinel set names: opened
//! on first use, again after it breaks, and closed when a command times out. (A cluster's
//! connections are cluster.rs's.)

use std::sync::PoisonError;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespValue};

use super::connection::{Clock, Connection};
use super::{Redis, COMMAND_TIMEOUT};
use crate::error::{ActorError, Cause};

/// A connection being opened, which every caller needing one waits for.
pub(super) type Opening = Shared<BoxFuture<'static, Result<Connection, ActorError>>>;

impl Redis {
    pub(super) async fn command_unbounded<T: FromResp>(
        &self,
        build: &dyn Fn(Clock) -> RespValue,
    ) -> Result<T, ActorError> {
        let (connection, reused) = self.connection().await?;
        let answer = connection.send(build(connection.clock())).await;
        // A connection kept from earlier may have died with a Redis restart since, or be to an
        // old master: one more try on a fresh one, so no request fails for it. Only when the
        // command surely did not run: never written (the connection had ended), or refused.
        let did_not_run = match &answer {
            Err(RedisError::Connection(_)) => true,
            Ok(RespValue::Error(reason)) => not_serving(reason),
            _ => false,
        };
        if reused && did_not_run {
            self.forget(&connection);
            let (fresh, _) = self.connection().await?;
            return self.send(&fresh, build(fresh.clock())).await;
        }
        self.classify(answer, || self.forget(&connection))
    }

    pub(super) async fn send<T: FromResp>(
        &self,
        connection: &Connection,
        command: RespValue,
    ) -> Result<T, ActorError> {
        self.classify(connection.send(command).await, || self.forget(connection))
    }

    /// An answer as `T`, or the error it is; `broken` when the connection cannot serve on.
    pub(super) fn classify<T: FromResp>(
        &self,
        answer: Result<RespValue, RedisError>,
        broken: impl FnOnce(),
    ) -> Result<T, ActorError> {
        match answer.and_then(T::from_resp) {
            Ok(answer) => Ok(answer),
            // A replica (an old master after a failover) or a server still loading: the
            // command did not run, and the next connection asks where the master is now.
            Err(RedisError::Remote(reason)) if not_serving(&reason) => {
                broken();
                Err(ActorError::RedisUnavailable(Cause::described(reason)))
            }
            // Redis answered: the connection is fine, the command was not.
            Err(err @ (RedisError::Remote(_) | RedisError::Resp(..))) => {
                Err(ActorError::Redis(Cause::new(err)))
            }
            Err(err) => {
                broken();
                Err(ActorError::RedisUnavailable(Cause::new(err)))
            }
        }
    }

    pub(super) fn slot(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        // The slot is only ever replaced whole, so a poisoned lock still holds a sound value.
        self.shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the shared connection, whatever is under way on it; the next command opens
    /// another.
    pub(super) fn close_connection(&self) {
        if let Some(connection) = self.slot().take() {
            connection.close();
        }
    }

    /// `connection` broke: the next command opens a new one (unless that happened already).
    fn forget(&self, connection: &Connection) {
        let mut slot = self.slot();
        if slot
            .as_ref()
            .is_some_and(|current| current.same(connection))
        {
            *slot = None;
        }
        connection.close();
    }

    /// The shared connection, opened if there is none; `true` when it was opened before.
    ///
    /// The opening runs in a task of its own with its own [`COMMAND_TIMEOUT`], and every caller
    /// waits for that one (each within its own deadline): a caller that gives up does not take
    /// the attempt down with it, so under steady load the connection still opens, however
    /// many round trips (sentinels, TLS, AUTH) it takes.
    pub(super) async fn connection(&self) -> Result<(Connection, bool), ActorError> {
        if let Some(connection) = self.slot().clone() {
            return Ok((connection, true));
        }
        let opening = {
            let mut opening = self
                .shared
                .opening
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &*opening {
                Some(under_way) if under_way.peek().is_none() => under_way.clone(),
                _ => {
                    let started = self.open_in_background();
                    *opening = Some(started.clone());
                    started
                }
            }
        };
        opening.await.map(|connection| (connection, false))
    }

    /// Opens the connection in a task on this thread and puts it in the slot.
    fn open_in_background(&self) -> Opening {
        let redis = self.clone();
        let task = actix_rt::spawn(async move {
            let shared = &redis.shared;
            let open = Connection::open(&shared.config, &shared.sentinel_turn);
            let connection = match tokio::time::timeout(COMMAND_TIMEOUT, open).await {
                Ok(Ok(connection)) => connection,
                Ok(Err(err)) => return Err(ActorError::RedisUnavailable(Cause::new(err))),
                Err(_) => {
                    let cause =
                        Cause::described(format_args!("no connection within {COMMAND_TIMEOUT:?}"));
                    return Err(ActorError::RedisUnavailable(cause));
                }
            };
            *redis.slot() = Some(connection.clone());
            Ok(connection)
        });
        let joined = async move {
            task.await.unwrap_or_else(|_| {
                let cause = Cause::described("the connection's opening was stopped");
                Err(ActorError::RedisUnavailable(cause))
            })
        };
        joined.boxed().shared()
    }
}

/// An error answer that says this server cannot run the command now, whatever it is: the
/// answer of a replica to a write, of a server loading its data, of a master whose sentinels
/// or cluster say it is down.
fn not_serving(reason: &str) -> bool {
    ["READONLY ", "LOADING ", "MASTERDOWN ", "CLUSTERDOWN "]
        .iter()
        .any(|code| reason.starts_with(code))
}
