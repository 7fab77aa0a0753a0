//! [`Rquery`]: read-only Redis commands on keys of the public namespace, answered as JSON (the
//! notes' `rquery`, docs/web-server.md). Only the commands of [`ReadCommand`] exist here:
//! anything else is refused before Redis sees it. Only keys under `<prefix><namespace>` are
//! read, so switchyard's own keys (queues, registrations, configuration) never are; and every
//! answer is bounded, checked in Redis before anything large is read ([`bounded`]).

mod bounded;

use std::rc::Rc;
use strum::{EnumString, IntoStaticStr};

use actix::prelude::*;
use redis_async::resp::RespValue;
use serde_json::{Map, Value as Json};
use tokio::sync::Semaphore;

use crate::error::ActorError;
use crate::redis::{PublicKeys, Redis};
pub(crate) use bounded::{first_items, read};
pub use bounded::{MOST_ANSWER_BYTES, MOST_ITEMS, MOST_STRING_BYTES};

/// The longest a query waits for one of the process's `RQUERY_MAX_INFLIGHT` turns.
pub const TURN_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The commands rquery runs, each with the arguments after the key it takes; parsed from their
/// names in any case, and named in capitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr)]
#[strum(serialize_all = "UPPERCASE", ascii_case_insensitive)]
pub enum ReadCommand {
    Get,
    Hget,
    Hgetall,
    Lrange,
    Llen,
    Smembers,
    Scard,
    Zrange,
    Zcard,
    Ttl,
    Type,
    Exists,
}

impl ReadCommand {
    /// The command `name` names, in any case; `None` for any other.
    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What follows the key: a field, or a start and a stop (integers).
    fn arguments(self) -> Arguments {
        match self {
            Self::Hget => Arguments::Field,
            Self::Lrange | Self::Zrange => Arguments::Range,
            _ => Arguments::None,
        }
    }
}

enum Arguments {
    None,
    Field,
    Range,
}

/// What a query got wrong, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{0} takes a key and nothing else")]
    KeyOnly(&'static str),
    #[error("HGET takes a key and a field")]
    Field,
    #[error("{0} takes a key, a start and a stop (integers)")]
    Range(&'static str),
    #[error("a key is needed: /rquery/<command>/<key>")]
    NoKey,
}

/// One read-only command on a key of the public namespace.
#[derive(Debug, Message, Clone, PartialEq, Eq)]
#[rtype(result = "Result<Json, ActorError>")]
pub struct Query {
    command: ReadCommand,
    /// Without the prefix.
    key: String,
    args: Vec<String>,
}

impl Query {
    /// Checks the arguments `command` takes after `key`.
    pub fn new(command: ReadCommand, key: String, args: Vec<String>) -> Result<Self, QueryError> {
        if key.is_empty() {
            return Err(QueryError::NoKey);
        }
        let fits = match command.arguments() {
            Arguments::None => args.is_empty(),
            Arguments::Field => args.len() == 1,
            Arguments::Range => args.len() == 2 && args.iter().all(|a| a.parse::<i64>().is_ok()),
        };
        if !fits {
            return Err(match command.arguments() {
                Arguments::None => QueryError::KeyOnly(command.name()),
                Arguments::Field => QueryError::Field,
                Arguments::Range => QueryError::Range(command.name()),
            });
        }
        Ok(Self { command, key, args })
    }
}

/// Runs queries on the thread's connection; one per worker thread, as the other app actors,
/// each with its own bound on the queries under way.
pub struct Rquery {
    redis: Redis,
    public: PublicKeys,
    /// This thread's turns: a semaphore shared by threads cost a tenth of the throughput
    /// (bench-redis), its counter bouncing between cores.
    under_way: Rc<Semaphore>,
}

impl Rquery {
    /// Reads keys of `public` only; at most `most_at_once` queries at once on this thread.
    pub fn new(redis: Redis, public: PublicKeys, most_at_once: usize) -> Self {
        Self {
            redis,
            public,
            under_way: Rc::new(Semaphore::new(most_at_once)),
        }
    }
}

impl Actor for Rquery {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::size_mailbox_for_a_worker(ctx);
    }
}

impl Handler<Query> for Rquery {
    type Result = ResponseFuture<Result<Json, ActorError>>;

    fn handle(&mut self, query: Query, _: &mut Self::Context) -> Self::Result {
        let redis = self.redis.clone();
        let key = self.public.key(&query.key);
        let under_way = Rc::clone(&self.under_way);
        Box::pin(async move {
            // A burst waits a little for its turn (a timer only then); a flood is refused.
            let _permit = match under_way.try_acquire() {
                Ok(permit) => permit,
                Err(_) => match tokio::time::timeout(TURN_WAIT, under_way.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(ActorError::TooManyQueries),
                },
            };
            let command = query.command;
            let answer: RespValue = read(&redis, command, &key, query.args).await?;
            Ok(if command == ReadCommand::Hgetall {
                object(answer)
            } else {
                json(answer)
            })
        })
    }
}

/// A Redis answer as JSON: nil is null, integers numbers, strings strings (bytes that are not
/// UTF-8 replaced), arrays arrays.
fn json(answer: RespValue) -> Json {
    match answer {
        RespValue::Nil => Json::Null,
        RespValue::Integer(n) => Json::from(n),
        RespValue::SimpleString(text) => Json::String(text),
        RespValue::BulkString(bytes) => Json::String(String::from_utf8_lossy(&bytes).into_owned()),
        RespValue::Array(items) => Json::Array(items.into_iter().map(json).collect()),
        RespValue::Error(reason) => Json::String(reason),
    }
}

/// `HGETALL`'s flat field, value list as an object.
fn object(answer: RespValue) -> Json {
    let RespValue::Array(items) = answer else {
        return json(answer);
    };
    let mut fields = Map::new();
    let mut pairs = items.into_iter().map(json);
    while let (Some(Json::String(field)), Some(value)) = (pairs.next(), pairs.next()) {
        fields.insert(field, value);
    }
    Json::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_read_only_commands_parse_in_any_case() {
        assert_eq!(ReadCommand::parse("hGetAll"), Some(ReadCommand::Hgetall));
        for refused in ["SET", "DEL", "FLUSHALL", "EVAL", "KEYS", "CONFIG", ""] {
            assert_eq!(ReadCommand::parse(refused), None, "{refused}");
        }
    }

    #[test]
    fn each_command_takes_its_own_arguments() {
        let key = || "k".to_owned();
        assert!(Query::new(ReadCommand::Get, key(), vec![]).is_ok());
        assert_eq!(
            Query::new(ReadCommand::Get, key(), vec!["x".into()]),
            Err(QueryError::KeyOnly("GET"))
        );
        assert_eq!(
            Query::new(ReadCommand::Hget, key(), vec![]),
            Err(QueryError::Field)
        );
        assert!(Query::new(ReadCommand::Lrange, key(), vec!["0".into(), "-1".into()]).is_ok());
        assert_eq!(
            Query::new(ReadCommand::Zrange, key(), vec!["0".into(), "x".into()]),
            Err(QueryError::Range("ZRANGE"))
        );
        assert_eq!(
            Query::new(ReadCommand::Ttl, String::new(), vec![]),
            Err(QueryError::NoKey)
        );
    }

    #[test]
    fn answers_read_as_json() {
        let flat = RespValue::Array(vec!["a".into(), "1".into(), "b".into(), "2".into()]);
        assert_eq!(object(flat), serde_json::json!({"a": "1", "b": "2"}));
        assert_eq!(json(RespValue::Nil), Json::Null);
        assert_eq!(json(RespValue::Integer(-2)), serde_json::json!(-2));
    }

    use crate::test_redis::{cmd, until, TestRedis};
    use redis_async::resp_array;
    use serde_json::json as j;

    fn query(command: ReadCommand, key: &str, args: &[&str]) -> Query {
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        Query::new(command, key.to_owned(), args).unwrap()
    }

    #[actix::test]
    async fn public_keys_answer_as_json_and_keys_outside_the_namespace_are_never_read() {
        let server = TestRedis::start();
        let redis = server.redis();
        let public = redis.keys().public("public:");
        let p = &server.prefix;
        let sets = [
            resp_array!["SET", public.key("greeting"), "hello"],
            resp_array!["HSET", public.key("h"), "a", "1", "b", "2"],
            resp_array!["RPUSH", public.key("l"), "x", "y", "z"],
            resp_array!["SET", format!("{p}secret"), "s3cret"],
            resp_array!["RPUSH", format!("{p}gateway:req"), "a request"],
        ];
        for set in sets {
            cmd::<RespValue>(&redis, set).await;
        }
        let rquery = Rquery::new(server.redis(), public, 4).start();
        let ask = |q: Query| async { rquery.send(q).await.unwrap() };
        let got = ask(query(ReadCommand::Get, "greeting", &[])).await;
        assert_eq!(got.unwrap(), j!("hello"));
        let got = ask(query(ReadCommand::Hgetall, "h", &[])).await;
        assert_eq!(got.unwrap(), j!({"a": "1", "b": "2"}));
        let got = ask(query(ReadCommand::Lrange, "l", &["1", "-1"])).await;
        assert_eq!(got.unwrap(), j!(["y", "z"]));
        assert_eq!(
            ask(query(ReadCommand::Llen, "l", &[])).await.unwrap(),
            j!(3)
        );
        // Whatever the name, it is read under <prefix>public:.
        for key in ["secret", "../secret", "gateway:req", "*"] {
            let got = ask(query(ReadCommand::Get, key, &[])).await.unwrap();
            assert_eq!(got, Json::Null, "{key}");
            let got = ask(query(ReadCommand::Type, key, &[])).await.unwrap();
            assert_eq!(got, j!("none"), "{key}");
        }
        let refused = ask(query(ReadCommand::Lrange, "greeting", &["0", "1"])).await;
        assert!(
            matches!(&refused, Err(ActorError::QueryRefused(words)) if words.contains("WRONGTYPE")),
            "{refused:?}"
        );
    }

    #[actix::test]
    async fn past_the_in_flight_bound_a_query_is_refused_and_the_turn_comes_back() {
        let server = TestRedis::start();
        let public = server.redis().keys().public("public:");
        let rquery = Rquery::new(server.redis(), public.clone(), 1).start();
        let get = || rquery.send(query(ReadCommand::Get, "k", &[]));
        assert_eq!(get().await.unwrap().unwrap(), Json::Null);
        // Redis holds every command for a while: the first query keeps the one turn.
        let _: String = cmd(&server.redis(), resp_array!["CLIENT", "PAUSE", "1500"]).await;
        let (first, second) = futures_util::future::join(get(), get()).await;
        assert!(matches!(second.unwrap(), Err(ActorError::TooManyQueries)));
        assert!(matches!(
            first.unwrap(),
            Err(ActorError::RedisUnavailable(_))
        ));
        // Once Redis answers again, so does the query that had to wait.
        until("a query answered after the pause", || async {
            get().await.unwrap().ok()
        })
        .await;
        let _: String = cmd(&server.redis(), resp_array!["SET", public.key("k"), "v"]).await;
        assert_eq!(get().await.unwrap().unwrap(), j!("v"));
    }
}
