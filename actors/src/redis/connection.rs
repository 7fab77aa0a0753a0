//! [`Connection`]: one connection to Redis on which commands are pipelined, and which can be
//! closed at once.
//!
//! redis-async's `PairedConnection` runs its socket in a task nothing can stop: dropped while
//! Redis is frozen (SIGSTOP, `docker pause`), it keeps the socket and every command it holds,
//! images included, until Redis answers again. Here the task is ours: [`Connection::close`]
//! aborts it, freeing everything and failing the commands waiting on it at once. Opening the
//! socket (TLS, the sentinels) is `dial.rs`'s and `sentinel.rs`'s; the RESP codec is
//! redis-async's.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;

use futures_util::{SinkExt, StreamExt};
use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::config::{RedisConfig, Topology};
use super::dial::{ask, closed, dial, Credentials, Socket};
use super::sentinel::{check_master, locate_master};

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

/// A socket to the server `config` names now (the sentinels asked, starting at `turn`),
/// authenticated, with its database selected.
pub async fn open_socket(config: &RedisConfig, turn: &AtomicUsize) -> Result<Socket, RedisError> {
    let tls = config.tls.as_ref();
    let mut socket = match &config.topology {
        Topology::Single(address) => dial(address, tls, Credentials::of(config)).await?,
        Topology::Sentinel { sentinels, master } => {
            let address = locate_master(sentinels, master, tls, turn).await?;
            let mut socket = dial(&address, tls, Credentials::of(config)).await?;
            check_master(&mut socket, &address).await?;
            socket
        }
        Topology::Cluster { .. } => {
            return Err(RedisError::Internal(
                "Redis Cluster is not supported yet".into(),
            ))
        }
    };
    if config.db != 0 {
        let selected = ask(&mut socket, resp_array!["SELECT", config.db.to_string()]).await?;
        String::from_resp(selected)?;
    }
    Ok(socket)
}

impl Connection {
    /// Opens a socket ([`open_socket`]) and runs it in a task on this thread.
    pub async fn open(config: &RedisConfig, turn: &AtomicUsize) -> Result<Self, RedisError> {
        let mut socket = open_socket(config, turn).await?;
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

fn millis_since_epoch(at: std::time::SystemTime) -> i64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

fn unix_millis() -> i64 {
    millis_since_epoch(std::time::SystemTime::now())
}

/// The socket's task: writes commands as they come (all those queued, then one flush) and
/// hands each answer to the oldest command waiting.
async fn run(mut socket: Socket, mut queued: mpsc::Receiver<(RespValue, Reply)>) {
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
