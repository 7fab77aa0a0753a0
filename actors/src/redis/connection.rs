//! [`Connection`]: one connection to Redis on which commands are pipelined, and which can be
//! closed at once.
//!
//! redis-async's `PairedConnection` runs its socket in a task nothing can stop: dropped while
//! Redis is frozen (SIGSTOP, `docker pause`), it keeps the socket and every command it holds,
//! images included, until Redis answers again. Here the task is ours: [`Connection::close`]
//! aborts it, freeing everything and failing the commands waiting on it at once. Connecting,
//! authenticating and the RESP codec are redis-async's.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use redis_async::client::connect::{connect_with_auth, RespConnection, RespConnectionInner};
use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::config::RedisConfig;

/// Commands queued for the socket, beyond which senders wait (within their own timeouts).
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<Result<RespValue, RedisError>>;

/// A connection's handle; clones share it. Commands are sent in the order they are given.
#[derive(Clone)]
pub struct Connection {
    commands: mpsc::Sender<(RespValue, Reply)>,
    task: AbortHandle,
    /// Redis's clock minus ours, in milliseconds, measured when the connection opened.
    clock_offset_ms: i64,
}

/// The connection was closed, or the socket failed, before the answer came.
fn closed() -> RedisError {
    RedisError::Connection(redis_async::error::ConnectionReason::NotConnected)
}

impl Connection {
    /// Connects, authenticates and selects the database; the socket's task runs on this thread.
    pub async fn open(config: &RedisConfig) -> Result<Self, RedisError> {
        let mut socket = connect_with_auth(
            &config.host,
            config.port,
            config.username.as_deref(),
            config.password.as_deref(),
            false,
            None,
            None,
        )
        .await?;
        // Closed with a reset, not a FIN after the unsent data: a frozen Redis that wakes up
        // must not run the commands of a connection we gave up on. (The only variant without
        // redis-async's TLS features, which switchyard does not enable.)
        let RespConnectionInner::Plain { stream } = socket.get_ref();
        stream.set_zero_linger()?;
        if config.db != 0 {
            let selected = ask(&mut socket, resp_array!["SELECT", config.db.to_string()]).await?;
            String::from_resp(selected)?;
        }
        let asked_at = unix_millis();
        let time = Vec::<String>::from_resp(ask(&mut socket, resp_array!["TIME"]).await?)?;
        let answered_at = unix_millis();
        let clock_offset_ms = match time.as_slice() {
            [secs, micros] => {
                let redis_ms = secs.parse::<i64>().unwrap_or(0) * 1000
                    + micros.parse::<i64>().unwrap_or(0) / 1000;
                redis_ms - (asked_at + answered_at) / 2
            }
            _ => return Err(RedisError::Unexpected("TIME answered oddly".into())),
        };
        let (commands, queued) = mpsc::channel(QUEUE);
        let task = actix_rt::spawn(run(socket, queued)).abort_handle();
        Ok(Self {
            commands,
            task,
            clock_offset_ms,
        })
    }

    /// Sends `command` and waits for its answer (an error answer is a `RespValue::Error`).
    pub async fn send(&self, command: RespValue) -> Result<RespValue, RedisError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send((command, reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Closes the socket at once; every command waiting on it fails.
    pub fn close(&self) {
        self.task.abort();
    }

    /// `at` (a moment on this machine's clock) on Redis's clock, in milliseconds since 1970.
    pub fn redis_millis(&self, at: std::time::SystemTime) -> i64 {
        millis_since_epoch(at) + self.clock_offset_ms
    }

    /// Whether both handles are the same connection's.
    pub fn same(&self, other: &Self) -> bool {
        self.commands.same_channel(&other.commands)
    }
}

/// One command on a socket not yet handed to its task.
async fn ask(socket: &mut RespConnection, command: RespValue) -> Result<RespValue, RedisError> {
    socket.send(command).await?;
    match socket.next().await {
        Some(Ok(RespValue::Error(reason))) => Err(RedisError::Remote(reason)),
        Some(answer) => answer,
        None => Err(closed()),
    }
}

fn millis_since_epoch(at: std::time::SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

fn unix_millis() -> i64 {
    millis_since_epoch(std::time::SystemTime::now())
}

/// The socket's task: writes commands as they come (all those queued, then one flush) and
/// hands each answer to the oldest command waiting.
async fn run(mut socket: RespConnection, mut queued: mpsc::Receiver<(RespValue, Reply)>) {
    let mut waiting: VecDeque<Reply> = VecDeque::new();
    loop {
        tokio::select! {
            next = queued.recv() => {
                // Every handle is gone: nobody reads the answers still due.
                let Some((command, reply)) = next else {
                    return;
                };
                waiting.push_back(reply);
                let mut written = socket.feed(command).await;
                while written.is_ok() {
                    let Ok((command, reply)) = queued.try_recv() else {
                        break;
                    };
                    waiting.push_back(reply);
                    written = socket.feed(command).await;
                }
                if let Err(err) = written.and(socket.flush().await) {
                    return fail_all(waiting, &err);
                }
            }
            answer = socket.next(), if !waiting.is_empty() => match answer {
                Some(Ok(answer)) => {
                    if let Some(reply) = waiting.pop_front() {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Some(Err(err)) => return fail_all(waiting, &err),
                None => return fail_all(waiting, &closed()),
            },
        }
    }
}

fn fail_all(waiting: VecDeque<Reply>, err: &dyn std::fmt::Display) {
    for reply in waiting {
        let _ = reply.send(Err(RedisError::Internal(err.to_string())));
    }
}
