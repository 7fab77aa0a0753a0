//! `LoadBalancer`: picks the registered server for each proxied request, round robin, and
//! keeps the servers that fail out of the rotation for a while.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler, Message};

use super::server_list::{Backend, ServerList};
use crate::error::{chain, ActorError, Cause};

/// A server that failed is left out of the rotation for this long.
pub const FAILED_SERVER_PAUSE: Duration = Duration::from_secs(2);

/// The next server in round-robin order, passing over paused ones and those in `avoid` (the
/// ones this request already failed on) while others remain.
#[derive(Debug, Message)]
#[rtype(result = "Result<Picked, ActorError>")]
pub struct PickServer {
    pub avoid: Vec<Backend>,
}

/// The server a [`PickServer`] chose.
#[derive(Debug, Clone)]
pub struct Picked {
    pub backend: Backend,
    /// It failed lately: report [`ServerRecovered`] when it answers.
    pub failing: bool,
}

/// `backend` failed a request (refused it, broke off, or took too long): pause it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReportFailure {
    pub backend: Backend,
    /// What went wrong, for the log.
    pub cause: Cause,
}

/// `backend`, which had failed, answered a request.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ServerRecovered {
    pub backend: Backend,
}

/// What all the `LoadBalancer`s of a process share, so that together they keep one rotation
/// and one view of which servers fail.
#[derive(Clone, Default)]
pub struct Rotation {
    next: Arc<AtomicUsize>,
    /// The servers that failed and have not answered since, and until when each is paused.
    failing: Arc<Mutex<HashMap<Backend, Instant>>>,
}

impl Rotation {
    fn failing(&self) -> std::sync::MutexGuard<'_, HashMap<Backend, Instant>> {
        // Every change is one insert or remove: a poisoned map is still sound.
        self.failing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Picks servers from the process's [`ServerList`]. Start one per worker thread (the pick is
/// then a message on the same thread), all with clones of one [`Rotation`].
pub struct LoadBalancer {
    servers: ServerList,
    rotation: Rotation,
}

impl LoadBalancer {
    pub fn new(servers: ServerList, rotation: Rotation) -> Self {
        Self { servers, rotation }
    }
}

impl Actor for LoadBalancer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        crate::size_mailbox_for_a_worker(ctx);
    }
}

impl Handler<PickServer> for LoadBalancer {
    type Result = Result<Picked, ActorError>;

    fn handle(&mut self, msg: PickServer, _: &mut Context<Self>) -> Self::Result {
        let servers = match self.servers.current() {
            Some(servers) if !servers.is_empty() => servers,
            Some(_) => return Err(ActorError::NoServers),
            None => return Err(ActorError::ServerListUnknown),
        };
        let now = Instant::now();
        let failing = self.rotation.failing();
        let paused = |b: &Backend| failing.get(b).is_some_and(|until| *until > now);
        let start = self.rotation.next.fetch_add(1, Ordering::Relaxed);
        let in_turn = (0..servers.len()).map(|i| &servers[(start + i) % servers.len()]);
        let untried = |b: &&Backend| !msg.avoid.contains(b);
        let picked = in_turn
            .clone()
            .find(|b| untried(b) && !paused(b))
            // Every server is paused: better one this request has not tried than no answer.
            .or_else(|| in_turn.clone().find(untried))
            .unwrap_or(&servers[start % servers.len()]);
        Ok(Picked {
            backend: picked.clone(),
            failing: failing.contains_key(picked),
        })
    }
}

impl Handler<ReportFailure> for LoadBalancer {
    type Result = ();

    fn handle(&mut self, msg: ReportFailure, _: &mut Context<Self>) {
        let until = Instant::now() + FAILED_SERVER_PAUSE;
        let first = self
            .rotation
            .failing()
            .insert(msg.backend.clone(), until)
            .is_none();
        // A failing server is logged when it starts failing and when it answers again.
        if first {
            log::warn!(
                "{} failed a request ({}): paused for {FAILED_SERVER_PAUSE:?} at a time until it answers again",
                msg.backend,
                chain(&msg.cause)
            );
        } else {
            log::debug!("{} failed again: {}", msg.backend, chain(&msg.cause));
        }
    }
}

impl Handler<ServerRecovered> for LoadBalancer {
    type Result = ();

    fn handle(&mut self, msg: ServerRecovered, _: &mut Context<Self>) {
        if self.rotation.failing().remove(&msg.backend).is_some() {
            log::info!("{} answers again", msg.backend);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends(urls: &[&str]) -> Vec<Backend> {
        urls.iter().map(|u| Backend::parse(u).unwrap()).collect()
    }

    fn balancer(urls: &[&str]) -> (actix::Addr<LoadBalancer>, Vec<Backend>) {
        let list = ServerList::default();
        let servers = backends(urls);
        list.replace(servers.clone());
        (
            LoadBalancer::new(list, Rotation::default()).start(),
            servers,
        )
    }

    async fn pick(balancer: &actix::Addr<LoadBalancer>, avoid: &[Backend]) -> Picked {
        let avoid = avoid.to_vec();
        balancer.send(PickServer { avoid }).await.unwrap().unwrap()
    }

    #[actix::test]
    async fn picks_in_turn() {
        let (balancer, servers) = balancer(&["http://a:1", "http://b:2", "http://c:3"]);
        let mut picked = Vec::new();
        for _ in 0..6 {
            picked.push(pick(&balancer, &[]).await.backend);
        }
        let expected: Vec<Backend> = servers.iter().chain(&servers).cloned().collect();
        assert_eq!(picked, expected);
    }

    #[actix::test]
    async fn a_failed_server_is_passed_over_until_the_pause_ends_and_flagged_until_it_answers() {
        let (balancer, servers) = balancer(&["http://a:1", "http://b:2"]);
        balancer
            .send(ReportFailure {
                backend: servers[0].clone(),
                cause: Cause::described("refused"),
            })
            .await
            .unwrap();
        for _ in 0..4 {
            assert_eq!(pick(&balancer, &[]).await.backend, servers[1]);
        }
        // Only paused ones left, or only the one tried: still an answer.
        let avoid = [servers[1].clone()];
        let only = pick(&balancer, &avoid).await;
        assert_eq!(only.backend, servers[0]);
        assert!(only.failing);
        balancer
            .send(ServerRecovered {
                backend: servers[0].clone(),
            })
            .await
            .unwrap();
        let picks = [pick(&balancer, &[]).await, pick(&balancer, &[]).await];
        assert!(picks.iter().any(|p| p.backend == servers[0] && !p.failing));
    }

    #[actix::test]
    async fn no_list_and_an_empty_list_are_told_apart() {
        let unknown = LoadBalancer::new(ServerList::default(), Rotation::default()).start();
        let answer = unknown.send(PickServer { avoid: vec![] }).await.unwrap();
        assert!(matches!(answer, Err(ActorError::ServerListUnknown)));
        let (empty, _) = balancer(&[]);
        let answer = empty.send(PickServer { avoid: vec![] }).await.unwrap();
        assert!(matches!(answer, Err(ActorError::NoServers)));
    }
}
