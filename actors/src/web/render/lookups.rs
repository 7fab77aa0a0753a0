//! The Redis data a template asks for while it renders. Templates render on a blocking thread
//! (minijinja's functions are synchronous); each `get`, `hash` or `list` call there is sent to
//! the worker's own thread, which asks Redis and hands the answer back. Every read is bounded:
//! in number per render, in size per value and in bytes per render. They read the public
//! namespace only, as `/rquery` does.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};

use minijinja::{Error, ErrorKind, Value};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::chain;
use crate::redis::{PublicKeys, Redis, COMMAND_TIMEOUT};

/// The most Redis reads one render may make.
pub const MOST_LOOKUPS: usize = 100;

/// The most bytes one render may read from Redis.
pub const MOST_BYTES: usize = 16 * 1024 * 1024;

// `get` and `hash` read as rquery's `GET` and `HGETALL` do, within the same bounds; `list`
// returns at most rquery's number of items, from the range's start, within its bytes.
use crate::web::rquery::{first_items, read, ReadCommand};

/// A read a template asked for; keys are taken under the prefix.
#[derive(Debug, Clone)]
pub enum Lookup {
    Get(String),
    Hash(String),
    List { key: String, start: i64, stop: i64 },
}

/// What Redis answered to a [`Lookup`].
#[derive(Debug, Clone)]
pub enum Fetched {
    Text(Option<Vec<u8>>),
    Fields(Vec<Vec<u8>>),
    Items(Vec<Vec<u8>>),
}

/// A lookup on its way to the worker's thread, with where its answer goes.
pub struct Asked {
    lookup: Lookup,
    answer: SyncSender<Result<Fetched, String>>,
}

/// The rendering side: asks, waits (within the Redis timeout), counts.
pub struct Lookups {
    ask: UnboundedSender<Asked>,
    made: AtomicUsize,
    bytes: AtomicUsize,
}

impl Lookups {
    pub fn new(ask: UnboundedSender<Asked>) -> Self {
        Self {
            ask,
            made: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    /// The template value for `lookup`: a string or none, a map, a list.
    pub fn fetch(&self, lookup: Lookup) -> Result<Value, Error> {
        let refused = |detail: String| Error::new(ErrorKind::InvalidOperation, detail);
        if self.made.fetch_add(1, Ordering::Relaxed) >= MOST_LOOKUPS {
            return Err(refused(format!(
                "more than {MOST_LOOKUPS} Redis reads in one render"
            )));
        }
        let described = lookup.describe();
        let (answer, answered) = sync_channel(1);
        self.ask
            .send(Asked { lookup, answer })
            .map_err(|_| refused(format!("{described}: the worker stopped")))?;
        // The worker's side is bounded by the Redis timeout; a little more for the hand-over.
        let fetched = answered
            .recv_timeout(COMMAND_TIMEOUT * 2)
            .map_err(|_| refused(format!("{described}: Redis did not answer in time")))?
            .map_err(|err| refused(format!("{described}: {err}")))?;
        let size = fetched.size();
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > MOST_BYTES {
            return Err(refused(format!(
                "more than {MOST_BYTES} bytes read from Redis in one render"
            )));
        }
        Ok(fetched.into_value())
    }
}

impl Lookup {
    fn key(&self) -> &str {
        match self {
            Self::Get(key) | Self::Hash(key) | Self::List { key, .. } => key,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Get(key) => format!("get({key:?})"),
            Self::Hash(key) => format!("hash({key:?})"),
            Self::List { key, start, stop } => format!("list({key:?}, {start}, {stop})"),
        }
    }
}

impl Fetched {
    fn size(&self) -> usize {
        match self {
            Self::Text(text) => text.as_ref().map_or(0, Vec::len),
            Self::Fields(all) | Self::Items(all) => all.iter().map(Vec::len).sum(),
        }
    }

    /// Bytes that are not UTF-8 are replaced, as rquery does.
    fn into_value(self) -> Value {
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        match self {
            Self::Text(value) => value.map(text).into(),
            Self::Items(items) => items.into_iter().map(text).collect::<Vec<_>>().into(),
            Self::Fields(flat) => {
                let mut fields = BTreeMap::new();
                let mut pairs = flat.into_iter();
                while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
                    fields.insert(text(name), text(value));
                }
                Value::from_serialize(&fields)
            }
        }
    }
}

/// Where lookups are answered: the public namespace of a Redis.
#[derive(Clone)]
pub struct PublicData {
    redis: Redis,
    keys: PublicKeys,
}

impl PublicData {
    pub fn new(redis: Redis, keys: PublicKeys) -> Self {
        Self { redis, keys }
    }

    /// Answers one lookup from Redis, on the worker's thread.
    pub async fn answer(&self, asked: Asked) {
        answer(&self.redis, self.keys.key(asked.lookup.key()), asked).await
    }
}

async fn answer(redis: &Redis, key: String, asked: Asked) {
    let result = match &asked.lookup {
        Lookup::Get(_) => read(redis, ReadCommand::Get, &key, Vec::new())
            .await
            .map(Fetched::Text),
        Lookup::Hash(_) => read(redis, ReadCommand::Hgetall, &key, Vec::new())
            .await
            .map(Fetched::Fields),
        Lookup::List { start, stop, .. } => first_items(redis, &key, *start, *stop)
            .await
            .map(Fetched::Items),
    };
    // The render may have given up waiting: nobody to tell then. Past a bound, or a key of
    // another type: what rquery would answer.
    let _ = asked.answer.send(result.map_err(|err| chain(&err)));
}
