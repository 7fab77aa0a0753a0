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
use super::url_parts::Address;

/// Commands queued for the socket, beyond which senders wait (within their own timeouts).
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<Result<RespValue, RedisError>>;

/// A connection's handle; clones share it. Commands are sent in the order they are given.
#[derive(Clone)]
pub struct Connection {
    commands: mpsc::Sender<(RespValue, Reply)>,
    task: AbortHandle,
    clock: Clock,
}

/// Redis's clock as one connection measured it when it opened.
#[derive(Clone, Copy, Default)]
pub struct Clock {
    /// Redis's clock minus ours, in milliseconds.
    offset_ms: i64,
}

impl Clock {
    /// `at` (a moment on this machine's clock) on Redis's clock, in milliseconds since 1970.
    pub fn redis_millis(self, at: std::time::SystemTime) -> i64 {
        millis_since_epoch(at) + self.offset_ms
    }
}

/// A socket to the server `config` names now (the sentinels asked, starting at `turn`; a
/// cluster's first seed that answers, for a subscription), authenticated, with its database
/// selected.
pub async fn open_socket(config: &RedisConfig, turn: &AtomicUsize) -> Result<Socket, RedisError> {
    let tls = config.tls.as_ref();
    match &config.topology {
        Topology::Single(address) => open_socket_at(config, address).await,
        Topology::Sentinel { sentinels, master } => {
            let address = locate_master(sentinels, master, tls, turn).await?;
            let mut socket = open_socket_at(config, &address).await?;
            if let Err(err) = check_master(&mut socket, &address).await {
                // That sentinel named a server that is not the master: ask the next one first.
                turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(err);
            }
            Ok(socket)
        }
        Topology::Cluster { seeds } => {
            let mut last = None;
            for seed in seeds {
                match open_socket_at(config, seed).await {
                    Ok(socket) => return Ok(socket),
                    Err(err) => last = Some(err),
                }
            }
            Err(last.unwrap_or_else(closed))
        }
    }
}

/// A socket to the server at `address`, authenticated, with its database selected.
async fn open_socket_at(config: &RedisConfig, address: &Address) -> Result<Socket, RedisError> {
    let mut socket = dial(address, config.tls.as_ref(), Credentials::of(config)).await?;
    if config.db != 0 {
        let selected = ask(&mut socket, resp_array!["SELECT", config.db.to_string()]).await?;
        String::from_resp(selected)?;
    }
    Ok(socket)
}

impl Connection {
    /// Opens a socket ([`open_socket`]) and runs it in a task on this thread.
    pub async fn open(config: &RedisConfig, turn: &AtomicUsize) -> Result<Self, RedisError> {
        Self::run(open_socket(config, turn).await?).await
    }

    /// Opens a socket to one node of a cluster, and runs it.
    pub async fn open_at(config: &RedisConfig, address: &Address) -> Result<Self, RedisError> {
        Self::run(open_socket_at(config, address).await?).await
    }

    /// Measures Redis's clock on `socket` and hands the socket to a task on this thread.
    async fn run(mut socket: Socket) -> Result<Self, RedisError> {
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
        let task = actix_rt::spawn(serve(socket, queued)).abort_handle();
        Ok(Self {
            commands,
            task,
            clock: Clock {
                offset_ms: clock_offset_ms,
            },
        })
    }

    /// Sends `command` and waits for its answer (an error answer is a `RespValue::Error`).
    pub async fn send(&self, command: RespValue) -> Result<RespValue, RedisError> {
        let (reply, answer) = oneshot::channel();
        // The task had ended: the command was never written (a caller may send it again).
        self.commands
            .send((command, reply))
            .await
            .map_err(|_| closed())?;
        // Written, or about to be, when the connection closed: it may have run.
        answer.await.map_err(|_| in_flight())?
    }

    /// Closes the socket at once; every command waiting on it fails.
    pub fn close(&self) {
        self.task.abort();
    }

    /// Redis's clock, as this connection measured it.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Whether both handles are the same connection's.
    pub fn same(&self, other: &Self) -> bool {
        self.commands.same_channel(&other.commands)
    }
}

/// The connection closed with the command written, or about to be: it may have run.
fn in_flight() -> RedisError {
    RedisError::Internal("the connection closed with the command in flight".into())
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
async fn serve(mut socket: Socket, mut queued: mpsc::Receiver<(RespValue, Reply)>) {
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
            // Read while idle too: a connection Redis closed (a restart) ends here, before a
            // command is written to it, so the caller can safely send that command again.
            answer = socket.next() => match answer {
                Some(Ok(answer)) => match waiting.pop_front() {
                    Some(reply) => {
                        let _ = reply.send(Ok(answer));
                    }
                    // An answer nobody asked for: the stream cannot be trusted.
                    None => return,
                },
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
