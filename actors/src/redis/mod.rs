//! The one place that opens Redis connections and names Redis keys, whatever the topology
//! (docs/redis-topologies.md): the actors never know it. A [`Redis`] handle sends ordinary
//! commands on one shared, pipelined [`Connection`], opened on first use (so the server starts
//! while Redis is down) and opened again after it breaks (asking the sentinels again).
//! Every command is bounded by [`COMMAND_TIMEOUT`], connecting included: with Redis down,
//! unreachable or frozen a request fails fast instead of hanging. A command that times out
//! closes the connection: the commands queued behind it fail at once instead of piling up,
//! and a late answer can never be read as another command's.

mod beside;
mod cluster;
mod commands;
mod config;
mod connection;
mod dial;
mod keys;
mod lease;
mod outages;
mod replicated;
mod routing;
mod sentinel;
mod single;
mod slots;
mod subscription;
mod tls;
mod url_parts;

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use redis_async::resp::{FromResp, RespValue};
use tokio::time::{timeout_at, Instant};

pub use beside::{beside, busy_list, busy_list_owner, busy_lists_patterns, vpush_mark};
use cluster::Cluster;
pub use config::{Address, RedisConfig, Topology};
use connection::{Clock, Connection};
pub use keys::{namespace_overlap, Keys, PublicKeys, DEFAULT_PUBLIC_NAMESPACE};
pub use lease::hold_lease;
pub use slots::same_slot;
use slots::{command_slot, key_slot};
pub use subscription::Subscription;
pub use tls::TlsRoots;

use crate::error::{ActorError, Cause};

/// The longest a command may take, connecting included; HTTP answers stay under 1 s.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(750);

/// The longest a `WAIT` for replicas may block the shared connection.
pub const REPLICA_WAIT: Duration = Duration::from_millis(200);

/// How long [`Redis::wait_and_move`] waits for something to take: also how soon a taker that
/// is stopping notices.
pub const MOVE_WAIT: Duration = Duration::from_secs(1);

/// Put before a script by [`Redis::eval_by`]: takes the deadline (Redis's clock, in ms) off the
/// front of ARGV and refuses to run past it.
const UNLESS_LATE: &str = "local t = redis.call('TIME') \
    if t[1] * 1000 + math.floor(t[2] / 1000) > tonumber(table.remove(ARGV, 1)) then \
    return redis.error_reply('LATE the caller gave up on this command') end ";

/// A script run only if Redis gets to it by a deadline ([`Redis::eval_by`]).
struct LateEval {
    source: String,
    /// The deadline on this machine's clock, converted to Redis's as each connection measured
    /// it, so hosts need not agree on the time.
    ends_at: SystemTime,
}

impl LateEval {
    fn new(deadline: Instant, script: &str) -> Self {
        Self {
            source: format!("{UNLESS_LATE}{script}"),
            ends_at: SystemTime::now() + deadline.saturating_duration_since(Instant::now()),
        }
    }

    /// `EVAL` on `keys`, the deadline on a connection's Redis `clock` first in ARGV, then `args`.
    fn command(&self, clock: Clock, keys: &[String], args: &[RespValue]) -> RespValue {
        let mut parts: Vec<RespValue> = Vec::with_capacity(4 + keys.len() + args.len());
        parts.extend([
            "EVAL".into(),
            self.source.as_str().into(),
            keys.len().to_string().into(),
        ]);
        parts.extend(keys.iter().map(|key| RespValue::from(key.as_str())));
        parts.push(clock.redis_millis(self.ends_at).to_string().into());
        parts.extend(args.iter().cloned());
        RespValue::Array(parts)
    }
}

/// Puts Redis's clock, in milliseconds, in `now`: hosts need not agree on the time.
macro_rules! with_now {
    ($($body:expr),+ $(,)?) => {
        concat!(
            "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) ",
            $($body),+
        )
    };
}
pub(crate) use with_now;

/// `EVAL script` on `keys` with `args`.
pub fn eval(script: &str, keys: &[String], args: &[String]) -> RespValue {
    let mut parts: Vec<RespValue> = Vec::with_capacity(3 + keys.len() + args.len());
    parts.extend(["EVAL".into(), script.into(), keys.len().to_string().into()]);
    parts.extend(keys.iter().map(|k| RespValue::from(k.as_str())));
    parts.extend(args.iter().map(|a| RespValue::from(a.as_str())));
    RespValue::Array(parts)
}

/// A handle on the shared connection; clones share it.
#[derive(Clone)]
pub struct Redis {
    shared: Arc<Shared>,
}

struct Shared {
    config: RedisConfig,
    keys: Keys,
    current: Mutex<Option<Connection>>,
    /// The one connection attempt under way, if any: every command waits for its result.
    opening: Mutex<Option<single::Opening>>,
    /// An outage is logged when it starts and when it ends, not once per command.
    reachable: AtomicBool,
    /// The sentinel asked first: the one that answered last.
    sentinel_turn: AtomicUsize,
    /// On a cluster, its map and its masters' connections (`current` stays empty).
    cluster: Option<Cluster>,
}

impl Redis {
    /// Connects on first use, not here.
    pub fn new(config: RedisConfig) -> Self {
        let cluster = match &config.topology {
            Topology::Cluster { seeds } => Some(Cluster::new(seeds)),
            _ => None,
        };
        let keys = Keys::new(&config.prefix, cluster.is_some());
        Self {
            shared: Arc::new(Shared {
                config,
                keys,
                current: Mutex::new(None),
                opening: Mutex::new(None),
                reachable: AtomicBool::new(true),
                sentinel_turn: AtomicUsize::new(0),
                cluster,
            }),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// Sends one command and reads its answer as `T`, within [`COMMAND_TIMEOUT`].
    pub async fn command<T: FromResp>(&self, command: RespValue) -> Result<T, ActorError> {
        self.command_by(Instant::now() + COMMAND_TIMEOUT, command)
            .await
    }

    /// As [`Self::command`], answered by `deadline` (for a caller that waited for its turn
    /// first, within the same bound).
    pub async fn command_by<T: FromResp>(
        &self,
        deadline: Instant,
        command: RespValue,
    ) -> Result<T, ActorError> {
        let slot = || command_slot(&command);
        self.bounded(deadline, &slot, &|_| command.clone()).await
    }

    /// As [`Self::command`], for a command without keys (`SCAN`) that must run where `key`
    /// lives: on a cluster, the node serving `key`'s slot.
    pub async fn command_beside<T: FromResp>(
        &self,
        key: &str,
        command: RespValue,
    ) -> Result<T, ActorError> {
        let slot = || Some(key_slot(key.as_bytes()));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        self.bounded(deadline, &slot, &|_| command.clone()).await
    }

    /// Whether `keys` can be touched together, by one script or one command: always on one
    /// Redis; on a cluster, when they hash to one slot ([`same_slot`]). Where they cannot, the
    /// caller takes the steps apart, each on keys that can.
    pub fn co_located(&self, keys: &[&str]) -> bool {
        self.shared.cluster.is_none() || same_slot(keys)
    }

    /// Runs the Lua `script` on `keys` with `args`, answered by `deadline`, and only if Redis
    /// gets to it by then. A command cannot be taken back once sent: when Redis was frozen
    /// (SIGSTOP, `docker pause`) and wakes up, it runs what it had received, long after its
    /// caller answered 503. Scripts that move data (an image popped, an upload queued) go this
    /// way, so a request that failed changed nothing ([`LateEval`] says on which clock).
    pub async fn eval_by<T: FromResp>(
        &self,
        deadline: Instant,
        script: &str,
        keys: &[String],
        args: Vec<RespValue>,
    ) -> Result<T, ActorError> {
        let eval = LateEval::new(deadline, script);
        let build = |clock: Clock| eval.command(clock, keys, &args);
        let slot = || keys.first().map(|key| key_slot(key.as_bytes()));
        self.bounded(deadline, &slot, &build).await
    }

    /// `build`'s command answered by `deadline`; on a cluster, sent to the node serving the
    /// slot `slot` finds (only asked there: one Redis needs no slot).
    async fn bounded<T: FromResp>(
        &self,
        deadline: Instant,
        slot: &dyn Fn() -> Option<u16>,
        build: &dyn Fn(Clock) -> RespValue,
    ) -> Result<T, ActorError> {
        match &self.shared.cluster {
            Some(cluster) => {
                let routed = async {
                    let (answer, node) = self.routed(cluster, deadline, slot(), build).await?;
                    self.classify(Ok(answer), || node.forget(cluster))
                };
                self.within(deadline, routed).await
            }
            None => self.within(deadline, self.command_unbounded(build)).await,
        }
    }

    /// `work` (commands on the shared connection) answered by `deadline`, or the connection
    /// closed; an outage noted.
    pub(super) async fn within<T>(
        &self,
        deadline: Instant,
        work: impl std::future::Future<Output = Result<T, ActorError>>,
    ) -> Result<T, ActorError> {
        let result = match timeout_at(deadline, work).await {
            Ok(result) => result,
            Err(_) => {
                self.close_connection();
                let cause = Cause::described("no answer in time; connection closed");
                Err(ActorError::RedisUnavailable(cause))
            }
        };
        self.note_reachability(&result);
        result
    }

    /// `BLMOVE from to RIGHT LEFT`: the oldest element of `from` (a full key) pushed onto `to`,
    /// waiting up to [`MOVE_WAIT`] for one to arrive; nil when none did. The connection blocks
    /// meanwhile: it must be the caller's own.
    pub async fn wait_and_move<T: FromResp>(&self, from: &str, to: &str) -> Result<T, ActorError> {
        let wait = MOVE_WAIT.as_secs().to_string();
        let command = RespValue::Array(vec![
            "BLMOVE".into(),
            from.into(),
            to.into(),
            "RIGHT".into(),
            "LEFT".into(),
            wait.as_str().into(),
        ]);
        self.command_by(Instant::now() + MOVE_WAIT + COMMAND_TIMEOUT, command)
            .await
    }
}

#[cfg(test)]
mod tests {
    use redis_async::resp_array;

    use super::*;

    #[actix::test]
    async fn nothing_listening_fails_fast() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = RedisConfig::from_url(&format!("redis://127.0.0.1:{port}"), "p:").unwrap();
        let redis = Redis::new(config);
        let answer: Result<String, _> = redis.command(resp_array!["PING"]).await;
        assert!(matches!(answer, Err(ActorError::RedisUnavailable(_))));
    }

    #[actix::test]
    async fn a_silent_server_fails_the_command_in_time_and_closes_the_connection() {
        // Accepts (the kernel's backlog does) and never answers, like a frozen Redis.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let redis = Redis::new(RedisConfig::from_url(&url, "p:").unwrap());
        let started = std::time::Instant::now();
        let answer: Result<String, _> = redis.command(resp_array!["PING"]).await;
        assert!(matches!(answer, Err(ActorError::RedisUnavailable(_))));
        assert!(started.elapsed() < COMMAND_TIMEOUT + Duration::from_millis(250));
        assert!(redis.slot().is_none(), "the connection is closed, not kept");
    }

    #[actix::test]
    async fn an_opening_outlives_the_callers_that_gave_up_on_it() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A server whose handshake takes 300 ms (sentinels, TLS, a far network), and which
        // accepts one connection only.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        actix_rt::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut read = vec![0u8; 4096];
            loop {
                let n = socket.read(&mut read).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                let asked = String::from_utf8_lossy(&read[..n]).into_owned();
                let time: &[u8] = b"*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n";
                let answers = std::iter::repeat_n(time, asked.matches("TIME").count()).chain(
                    std::iter::repeat_n(&b"+PONG\r\n"[..], asked.matches("PING").count()),
                );
                for answer in answers {
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            }
        });
        let redis = Redis::new(RedisConfig::from_url(&url, "p:").unwrap());
        let started = std::time::Instant::now();
        let answered = loop {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "never connected"
            );
            // Each caller gives up after 100 ms, long before the handshake ends.
            let deadline = Instant::now() + Duration::from_millis(100);
            if let Ok(pong) = redis
                .command_by::<String>(deadline, resp_array!["PING"])
                .await
            {
                break pong;
            }
        };
        assert_eq!(answered, "PONG");
    }
}
