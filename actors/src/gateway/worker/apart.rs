//! Outcomes a cluster keeps away from the worker's busy list (another gateway's reply list, a
//! router's route queue on another node): one script cannot push them and remove their
//! requests from the busy list, so they are pushed first, one script per destination, and
//! their requests then leave the busy list as requests answered with nothing more to push.
//! A pause or a failure between the two steps leaves a request pushed and still in the busy
//! list: it is handled again (at-least-once; docs/redis-keys.md says where that can show).

use std::rc::Rc;

use redis_async::resp::RespValue;

use super::{Finished, Worker};
use crate::error::ActorError;
use crate::gateway::scripts::{script, PUSH_OUTCOMES};

/// What is left for the busy list's own script once the outcomes kept apart were pushed: those
/// pushed, with nothing more to push, and those beside the busy list as they were; not those
/// whose push failed (they stay in the busy list, in hand), and the first failure.
pub(super) struct PushedApart {
    pub rest: Vec<Finished>,
    pub failed: Option<ActorError>,
}

impl Worker {
    /// Pushes the outcomes among `finished` whose destination cannot be touched with the busy
    /// list; `None` when there is none (always on one Redis), and nothing was sent.
    pub(super) async fn push_apart(&self, finished: &[Finished]) -> Option<PushedApart> {
        let apart = |done: &Finished| self.is_apart(done);
        if !finished.iter().any(apart) {
            return None;
        }
        let mut destinations: Vec<&str> = Vec::new();
        for done in finished.iter().filter(|done| apart(done)) {
            let destination = done.outcome.as_ref().map(|o| o.destination.as_str());
            if let Some(destination) = destination.filter(|d| !destinations.contains(d)) {
                destinations.push(destination);
            }
        }
        let mut refused: Vec<&str> = Vec::new();
        let mut failed = None;
        for destination in destinations {
            if let Err(err) = self.push_to(destination, finished).await {
                refused.push(destination);
                failed.get_or_insert(err);
            }
        }
        let rest = finished
            .iter()
            .filter_map(|done| match &done.outcome {
                Some(outcome) if refused.contains(&outcome.destination.as_str()) => None,
                Some(_) if apart(done) => Some(Finished {
                    raw: Rc::clone(&done.raw),
                    outcome: None,
                    track: done.track,
                }),
                _ => Some(done.clone()),
            })
            .collect();
        Some(PushedApart { rest, failed })
    }

    /// Whether `done`'s outcome goes where the busy list's script cannot reach.
    pub(super) fn is_apart(&self, done: &Finished) -> bool {
        done.outcome.as_ref().is_some_and(|outcome| {
            !self
                .redis
                .co_located(&[self.busy.as_str(), outcome.destination.as_str()])
        })
    }

    /// The outcomes among `finished` that go to `destination`, in one script.
    async fn push_to(&self, destination: &str, finished: &[Finished]) -> Result<(), ActorError> {
        let mut keys = Vec::new();
        let mut args = Vec::new();
        for outcome in finished.iter().filter_map(|done| done.outcome.as_ref()) {
            if outcome.destination == destination {
                keys.push(outcome.destination.clone());
                args.push(RespValue::BulkString(outcome.message.clone()));
                args.push(RespValue::from(outcome.expire_ms.unwrap_or(0).to_string()));
            }
        }
        let _: i64 = self
            .redis
            .command(script(PUSH_OUTCOMES, keys, args))
            .await?;
        Ok(())
    }
}
