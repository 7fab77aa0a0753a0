//! A worker's finish: the outcomes of requests done with pushed, and those requests removed
//! from the busy list, in one script when every destination is beside the busy list (always
//! on one Redis), else in the steps of [`super::apart`].

use std::rc::Rc;

use redis_async::resp::RespValue;

use super::apart::PushedApart;
use super::{Finished, Worker};
use crate::error::ActorError;
use crate::gateway::scripts::{script, FINISH_ALL_AND_TAKE, FINISH_SOME, RECORD_DONE};
use crate::gateway::tracking::done_args;
use crate::redis::eval;

impl Worker {
    /// Pushes the outcomes of `finished`, some of the requests in hand, and removes them from
    /// the busy list.
    pub(super) async fn finish_some(&self, finished: &[Finished]) -> Result<(), ActorError> {
        let result = match self.push_apart(finished).await {
            None => self.finish_some_beside(finished).await,
            Some(PushedApart { rest, failed }) => {
                if !rest.is_empty() {
                    self.finish_some_beside(&rest).await?;
                }
                failed.map_or(Ok(()), Err)
            }
        };
        if result.is_ok() {
            self.record_apart(finished).await;
        }
        result
    }

    /// [`Self::finish_some`] in one script, every destination beside the busy list.
    async fn finish_some_beside(&self, finished: &[Finished]) -> Result<(), ActorError> {
        let mut keys = vec![self.busy.clone()];
        let mut args: Vec<RespValue> = finished.iter().map(|f| RespValue::from(&*f.raw)).collect();
        self.add_outcomes(finished, &mut keys, &mut args);
        let _: i64 = self.redis.command(script(FINISH_SOME, keys, args)).await?;
        Ok(())
    }

    /// Pushes the outcomes of `finished`, every request in hand, empties the busy list, and
    /// takes up to `most` more.
    pub(super) async fn finish_all_and_take(
        &self,
        finished: &[Finished],
        most: usize,
    ) -> Result<Vec<Rc<str>>, ActorError> {
        let result = self.finish_all_in_steps_and_take(finished, most).await;
        if result.is_ok() {
            self.record_apart(finished).await;
        }
        result
    }

    async fn finish_all_in_steps_and_take(
        &self,
        finished: &[Finished],
        most: usize,
    ) -> Result<Vec<Rc<str>>, ActorError> {
        match self.push_apart(finished).await {
            None => self.finish_all_beside_and_take(finished, most).await,
            Some(PushedApart { rest, failed: None }) => {
                self.finish_all_beside_and_take(&rest, most).await
            }
            // What could not be pushed stays in the busy list: it is not deleted whole.
            Some(PushedApart {
                rest,
                failed: Some(err),
            }) => {
                if !rest.is_empty() {
                    self.finish_some_beside(&rest).await?;
                }
                Err(err)
            }
        }
    }

    /// [`Self::finish_all_and_take`] in one script, every destination beside the busy list.
    async fn finish_all_beside_and_take(
        &self,
        finished: &[Finished],
        most: usize,
    ) -> Result<Vec<Rc<str>>, ActorError> {
        let mut keys = vec![self.busy.clone(), self.queue.clone()];
        let mut args = vec![RespValue::from(most.to_string())];
        self.add_outcomes(finished, &mut keys, &mut args);
        let taken: Vec<String> = self
            .redis
            .command(script(FINISH_ALL_AND_TAKE, keys, args))
            .await?;
        Ok(taken.into_iter().map(Rc::from).collect())
    }

    /// Each outcome's destination to `keys`, the outcome and its expiry to `args`, then what
    /// tracking records of the tracked answers.
    fn add_outcomes(
        &self,
        finished: &[Finished],
        keys: &mut Vec<String>,
        args: &mut Vec<RespValue>,
    ) {
        for done in finished {
            match &done.outcome {
                Some(outcome) => {
                    keys.push(outcome.destination.clone());
                    args.push(RespValue::BulkString(outcome.message.clone()));
                    args.push(RespValue::from(outcome.expire_ms.unwrap_or(0).to_string()));
                }
                None => {
                    keys.push(self.busy.clone());
                    args.extend([RespValue::from(""), RespValue::from("0")]);
                }
            }
        }
        if self.records_beside {
            let done = done_args(
                self.redis.keys(),
                &self.id,
                &tracked_answers(finished.iter()),
            );
            args.extend(done.into_iter().map(RespValue::from));
        }
    }

    /// Records the tracked answers among `finished`, once they went out, where the finish
    /// script could not (a cluster keeps tracking in a slot of its own). A record lost here
    /// (Redis failed) leaves its message to be counted as a timeout by the monitor.
    async fn record_apart(&self, finished: &[Finished]) {
        // Those the finish script did not record: all where it could not, else those pushed
        // apart.
        let unrecorded = finished
            .iter()
            .filter(|done| !self.records_beside || self.is_apart(done));
        let answers = tracked_answers(unrecorded);
        if answers.is_empty() {
            return;
        }
        let keys = [self.redis.keys().tracked_seq()];
        let args = done_args(self.redis.keys(), &self.id, &answers);
        if let Err(err) = self
            .redis
            .command::<i64>(eval(RECORD_DONE, &keys, &args))
            .await
        {
            log::debug!("{} answer(s) not recorded: {err}", answers.len());
        }
    }
}

/// The tracked ids among `finished` that were answered, with their statuses.
fn tracked_answers<'a>(finished: impl Iterator<Item = &'a Finished>) -> Vec<(u64, u16)> {
    finished
        .filter_map(|done| Some((done.track?, done.outcome.as_ref()?.answered?)))
        .collect()
}
