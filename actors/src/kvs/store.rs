//! `Store`: the in-memory key-value store of the main instance.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use super::keyvalue::{Key, Value};
use super::link_frame::{LinkAnswer, LinkRequest};
use super::messages::{Delete, DeleteOutcome, Get, Put, PutOutcome};
use super::sharded_map::{Full, ShardedMap};
use super::store_gate::StoreGate;
use crate::error::ActorError;

/// The requests of one message of a forwarder's link (`/kvs-link`), applied in their order:
/// a GET after a PUT to the same key sees it. Each answer carries its request's id. Fewer
/// answers than requests: the store closed at the first write left unanswered (the main is
/// stopping), and neither it nor any after it was applied.
#[derive(Debug, Message)]
#[rtype(result = "Vec<(u32, LinkAnswer)>")]
pub struct ApplyLinkRequests(pub Vec<(u32, LinkRequest)>);

/// Answers `Put`, `Get`, `Delete` and `ApplyLinkRequests` from memory.
///
/// Start one per worker thread, each with a clone of the same map: every request then reaches
/// a `Store` on its own thread, and all of them read and write one store.
pub struct Store {
    map: Arc<ShardedMap>,
    /// Closed: writes are refused ([`ActorError::ShuttingDown`]).
    gate: StoreGate,
}

impl Store {
    pub fn new(map: Arc<ShardedMap>, gate: StoreGate) -> Self {
        Self { map, gate }
    }

    fn put(&self, key: Key, value: Value) -> Result<PutOutcome, ActorError> {
        if self.gate.is_closed() {
            return Err(ActorError::ShuttingDown);
        }
        match self.map.insert(key, value) {
            Ok(true) => Ok(PutOutcome::Replaced),
            Ok(false) => Ok(PutOutcome::Created),
            Err(Full) => Err(ActorError::StoreFull),
        }
    }

    fn delete(&self, key: &Key) -> Result<DeleteOutcome, ActorError> {
        if self.gate.is_closed() {
            return Err(ActorError::ShuttingDown);
        }
        Ok(if self.map.remove(key) {
            DeleteOutcome::Deleted
        } else {
            DeleteOutcome::NotFound
        })
    }
}

impl Actor for Store {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        crate::size_mailbox_for_a_worker(ctx);
    }
}

impl Handler<Put> for Store {
    type Result = Result<PutOutcome, ActorError>;

    fn handle(&mut self, msg: Put, _: &mut Context<Self>) -> Self::Result {
        self.put(msg.key, msg.value)
    }
}

impl Handler<Get> for Store {
    type Result = Result<Option<Value>, ActorError>;

    fn handle(&mut self, msg: Get, _: &mut Context<Self>) -> Self::Result {
        Ok(self.map.get(&msg.key))
    }
}

impl Handler<Delete> for Store {
    type Result = Result<DeleteOutcome, ActorError>;

    fn handle(&mut self, msg: Delete, _: &mut Context<Self>) -> Self::Result {
        self.delete(&msg.key)
    }
}

impl Handler<ApplyLinkRequests> for Store {
    type Result = Vec<(u32, LinkAnswer)>;

    fn handle(&mut self, msg: ApplyLinkRequests, _: &mut Context<Self>) -> Self::Result {
        let answer = |request| {
            Ok(match request {
                LinkRequest::Get(key) => match self.map.get(&key) {
                    Some(value) => LinkAnswer::Found(value),
                    None => LinkAnswer::NotFound,
                },
                LinkRequest::Put(key, value) => match self.put(key, value) {
                    Ok(outcome) => LinkAnswer::Put(outcome),
                    Err(ActorError::StoreFull) => LinkAnswer::StoreFull,
                    Err(closed) => return Err(closed),
                },
                LinkRequest::Delete(key) => LinkAnswer::of_delete(self.delete(&key)?),
            })
        };
        msg.0
            .into_iter()
            .map_while(|(id, request)| answer(request).ok().map(|answer| (id, answer)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvs::keyvalue::testing::{key, value};

    #[actix::test]
    async fn put_get_delete_round_trip() {
        let store = Store::new(Arc::new(ShardedMap::new(usize::MAX)), StoreGate::default()).start();
        let put = |v: &str| Put {
            key: key("foo"),
            value: value(v),
        };
        assert_eq!(
            store.send(put("bart")).await.unwrap().unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            store.send(put("baz")).await.unwrap().unwrap(),
            PutOutcome::Replaced
        );
        let got = store.send(Get { key: key("foo") }).await.unwrap();
        assert_eq!(got.unwrap(), Some(value("baz")));
        let deleted = store.send(Delete { key: key("foo") }).await.unwrap();
        assert_eq!(deleted.unwrap(), DeleteOutcome::Deleted);
        let got = store.send(Get { key: key("foo") }).await.unwrap();
        assert_eq!(got.unwrap(), None);
        let deleted = store.send(Delete { key: key("foo") }).await.unwrap();
        assert_eq!(deleted.unwrap(), DeleteOutcome::NotFound);
        assert_eq!(
            store.send(put("again")).await.unwrap().unwrap(),
            PutOutcome::Created
        );
    }

    #[actix::test]
    async fn two_stores_on_one_map_are_one_store() {
        let map = Arc::new(ShardedMap::new(usize::MAX));
        let first = Store::new(Arc::clone(&map), StoreGate::default()).start();
        let second = Store::new(map, StoreGate::default()).start();
        let put = Put {
            key: key("shared"),
            value: value("1"),
        };
        assert_eq!(first.send(put).await.unwrap().unwrap(), PutOutcome::Created);
        let got = second.send(Get { key: key("shared") }).await.unwrap();
        assert_eq!(got.unwrap(), Some(value("1")));
    }

    #[actix::test]
    async fn link_requests_are_applied_in_their_order() {
        let store = Store::new(Arc::new(ShardedMap::new(usize::MAX)), StoreGate::default()).start();
        let requests = vec![
            (1, LinkRequest::Get(key("k"))),
            (2, LinkRequest::Put(key("k"), value("one"))),
            (3, LinkRequest::Get(key("k"))),
            (4, LinkRequest::Put(key("k"), value("two"))),
            (5, LinkRequest::Delete(key("k"))),
            (6, LinkRequest::Delete(key("k"))),
            (7, LinkRequest::Put(key("k"), value("three"))),
        ];
        let answers = store.send(ApplyLinkRequests(requests)).await.unwrap();
        assert_eq!(
            answers,
            vec![
                (1, LinkAnswer::NotFound),
                (2, LinkAnswer::Put(PutOutcome::Created)),
                (3, LinkAnswer::Found(value("one"))),
                (4, LinkAnswer::Put(PutOutcome::Replaced)),
                (5, LinkAnswer::Deleted),
                (6, LinkAnswer::NotFound),
                (7, LinkAnswer::Put(PutOutcome::Created)),
            ]
        );
        let got = store.send(Get { key: key("k") }).await.unwrap();
        assert_eq!(got.unwrap(), Some(value("three")));
    }

    #[actix::test]
    async fn a_closed_store_refuses_writes_and_stops_a_link_message_at_the_first() {
        let gate = StoreGate::default();
        let store = Store::new(Arc::new(ShardedMap::new(usize::MAX)), gate.clone()).start();
        let put = |v: &str| Put {
            key: key("k"),
            value: value(v),
        };
        store.send(put("before")).await.unwrap().unwrap();
        gate.close();
        let refused = store.send(put("after")).await.unwrap();
        assert!(matches!(refused, Err(ActorError::ShuttingDown)));
        let deleted = store.send(Delete { key: key("k") }).await.unwrap();
        assert!(matches!(deleted, Err(ActorError::ShuttingDown)));
        let requests = vec![
            (1, LinkRequest::Get(key("k"))),
            (2, LinkRequest::Put(key("k"), value("linked"))),
            (3, LinkRequest::Get(key("k"))),
        ];
        let answers = store.send(ApplyLinkRequests(requests)).await.unwrap();
        assert_eq!(answers, vec![(1, LinkAnswer::Found(value("before")))]);
        let got = store.send(Get { key: key("k") }).await.unwrap();
        assert_eq!(got.unwrap(), Some(value("before")));
    }

    #[actix::test]
    async fn a_full_store_refuses_a_put_and_keeps_what_it_has() {
        let store = Store::new(Arc::new(ShardedMap::new(4)), StoreGate::default()).start();
        let put = |k: &str, v: &str| Put {
            key: key(k),
            value: value(v),
        };
        assert_eq!(
            store.send(put("a", "123")).await.unwrap().unwrap(),
            PutOutcome::Created
        );
        let refused = store.send(put("b", "1")).await.unwrap();
        assert!(matches!(refused, Err(ActorError::StoreFull)));
        let got = store.send(Get { key: key("b") }).await.unwrap();
        assert_eq!(got.unwrap(), None);
    }
}
