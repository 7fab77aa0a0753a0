//! [`Worker`]: takes requests from a queue reliably and answers them with a [`Job`].
//!
//! A request is moved to the worker's busy list as it is taken (`BLMOVE`, or a script that
//! moves several at once under load), and leaves it only in the script that pushes its outcome:
//! a worker that dies leaves its requests there for [`crate::roster::TakerRoster`] to put
//! back. Outcomes are pushed as they finish, those finished together in one script. A command
//! whose answer was lost (a pause of Redis or of this process past the command's timer) may
//! still have run: the busy list is then read again before anything else, and what it holds is
//! handled, never deleted unhandled.

use std::rc::Rc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use redis_async::resp::RespValue;
use tokio::sync::watch;

use super::job::{Job, Outcome};
use super::message::GatewayRequest;
use super::scripts::TAKE;
use crate::error::ActorError;
use crate::redis::{busy_list, Redis};
use crate::run_loop::{until_registered, RefusalLog, Taker};

/// After Redis failed, before the next try.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// A request done with: its outcome, or none (past its deadline, or not a request at all), and
/// its tracked id when it has one.
#[derive(Clone)]
struct Finished {
    raw: Rc<str>,
    outcome: Option<Outcome>,
    track: Option<u64>,
}

/// Takes requests from one queue and answers them with a [`Job`]; runs as a
/// [`TakerActor`](crate::run_loop::TakerActor).
pub struct Worker {
    redis: Redis,
    queue: String,
    /// Its id in `<prefix>workers`, written as `service` on the tracked messages it answers.
    id: String,
    busy: String,
    /// Whether the tracked messages' hashes live beside the busy list (always on one Redis),
    /// so that the finish script records the answers itself.
    records_beside: bool,
    job: Rc<dyn Job>,
    most_per_take: usize,
    registered: watch::Receiver<bool>,
}

impl Worker {
    /// Takes from `queue` (a full key) as `worker_id`, up to `most_per_take` at once, once
    /// `registered` turns true (a busy list with no registration would be recovered from
    /// under it). `redis` must be this worker's own: it blocks.
    pub fn new(
        redis: Redis,
        queue: String,
        worker_id: &str,
        job: Rc<dyn Job>,
        most_per_take: usize,
        registered: watch::Receiver<bool>,
    ) -> Self {
        let busy = busy_list(&queue, worker_id);
        let tracking = redis.keys().tracked_seq();
        Self {
            records_beside: redis.co_located(&[busy.as_str(), tracking.as_str()]),
            busy,
            id: worker_id.to_owned(),
            redis,
            queue,
            job,
            most_per_take,
            registered,
        }
    }
}

impl Taker for Worker {
    async fn run(self, mut stopping: watch::Receiver<bool>) {
        if !until_registered(&self.registered, &mut stopping).await {
            return;
        }
        // Finished, their outcomes not yet pushed: they stay in the busy list until they are.
        let mut unpushed: Vec<Finished> = Vec::new();
        // Under load a script takes several at once; when it finds none, a blocking move
        // waits for the next.
        let mut queue_was_empty = true;
        // A command that failed may still have run in Redis (its answer dropped by the timer
        // when Redis or this process paused): until the busy list is read again, what it
        // holds is not known, and it must not be deleted whole.
        let mut busy_may_hold = false;
        // A destination of another type refuses the answers that go to it.
        let mut refusals = RefusalLog::new(format!("worker on {}", self.queue), "answers again");
        while !*stopping.borrow() {
            // Nothing is in hand here: what is finished goes in the same script as the next
            // take.
            let reconciling = busy_may_hold;
            let taken = if busy_may_hold {
                self.reconcile(&mut unpushed).await
            } else if unpushed.is_empty() {
                self.take(queue_was_empty).await
            } else {
                let most = if queue_was_empty {
                    0
                } else {
                    self.most_per_take
                };
                match self.finish_all_and_take(&unpushed, most).await {
                    Ok(taken) => {
                        unpushed.clear();
                        if queue_was_empty {
                            self.take(true).await
                        } else {
                            Ok(taken)
                        }
                    }
                    Err(err) => Err(err),
                }
            };
            let taken = match taken {
                Ok(taken) => taken,
                Err(err) => {
                    refusals.failed(&err);
                    busy_may_hold = true;
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            // Reading the busy list going through says nothing of the answers' destinations.
            if !reconciling {
                refusals.went_through();
            }
            busy_may_hold = false;
            queue_was_empty = taken.is_empty();
            let mut handling = FuturesUnordered::new();
            for raw in taken {
                match serde_json::from_str::<GatewayRequest>(&raw) {
                    Ok(request) if request.is_past_deadline() => {
                        log::debug!("request {:?} dropped: past its deadline", request.id);
                        unpushed.push(Finished {
                            raw,
                            outcome: None,
                            track: None,
                        });
                    }
                    Ok(request) => {
                        let job = Rc::clone(&self.job);
                        let track = request.track.filter(|_| request.may_record_answer());
                        handling.push(async move {
                            let outcome = job.handle(Rc::clone(&raw), request).await;
                            Finished {
                                raw,
                                outcome: Some(outcome),
                                track,
                            }
                        });
                    }
                    Err(err) => {
                        log::warn!(
                            "a message on {} is not a request, dropped: {err}",
                            self.queue
                        );
                        unpushed.push(Finished {
                            raw,
                            outcome: None,
                            track: None,
                        });
                    }
                }
            }
            // Those finished together are pushed together while the rest go on; the last
            // group waits for the next take.
            while let Some(first) = handling.next().await {
                unpushed.push(first);
                while let Some(Some(next)) = handling.next().now_or_never() {
                    unpushed.push(next);
                }
                if handling.is_empty() {
                    break;
                }
                let mut later = Vec::new();
                let pushed = {
                    let finish = self.finish_some(&unpushed);
                    tokio::pin!(finish);
                    loop {
                        tokio::select! {
                            pushed = &mut finish => break pushed,
                            Some(done) = handling.next() => later.push(done),
                        }
                    }
                };
                match pushed {
                    Ok(()) => unpushed.clear(),
                    Err(_) => busy_may_hold = true,
                }
                unpushed.append(&mut later);
            }
        }
        // Left in the busy list if this fails: put back once this worker lapses (its
        // registration is removed as it stops), as is anything taken unbeknown to it.
        if busy_may_hold {
            if self.reconcile(&mut unpushed).await.is_ok() && !unpushed.is_empty() {
                let _ = self.finish_some(&unpushed).await;
            }
        } else if !unpushed.is_empty() {
            let _ = self.finish_all_and_take(&unpushed, 0).await;
        }
    }
}

impl Worker {
    /// Reads the busy list after a command whose answer was lost: what it holds is what this
    /// worker has taken and not answered. Keeps in `unpushed` those still there (the others
    /// were pushed by the lost command), and answers the requests it holds that are not in
    /// hand (taken by the lost command), to be handled.
    async fn reconcile(&self, unpushed: &mut Vec<Finished>) -> Result<Vec<Rc<str>>, ActorError> {
        let read = RespValue::Array(vec![
            "LRANGE".into(),
            self.busy.as_str().into(),
            "0".into(),
            "-1".into(),
        ]);
        let held: Vec<String> = self.redis.command(read).await?;
        let mut in_hand = std::mem::take(unpushed);
        let mut not_in_hand = Vec::new();
        for raw in held {
            match in_hand.iter().position(|done| *done.raw == *raw) {
                Some(i) => unpushed.push(in_hand.swap_remove(i)),
                None => not_in_hand.push(Rc::from(raw)),
            }
        }
        if !not_in_hand.is_empty() {
            log::info!(
                "{} request(s) on {} taken by a command whose answer was lost: handled now",
                not_in_hand.len(),
                self.queue
            );
        }
        Ok(not_in_hand)
    }

    /// Waits for a request with `BLMOVE` when the queue was found empty, else takes several.
    async fn take(&self, queue_was_empty: bool) -> Result<Vec<Rc<str>>, ActorError> {
        if queue_was_empty {
            self.take_blocking().await
        } else {
            self.take_several().await
        }
    }

    async fn take_several(&self) -> Result<Vec<Rc<str>>, ActorError> {
        let take = crate::redis::eval(
            TAKE,
            &[self.queue.clone(), self.busy.clone()],
            &[self.most_per_take.to_string()],
        );
        let taken: Vec<String> = self.redis.command(take).await?;
        Ok(taken.into_iter().map(Rc::from).collect())
    }

    async fn take_blocking(&self) -> Result<Vec<Rc<str>>, ActorError> {
        let taken: Option<String> = self.redis.wait_and_move(&self.queue, &self.busy).await?;
        Ok(taken.into_iter().map(Rc::from).collect())
    }
}

mod apart;
mod finish;
#[cfg(test)]
mod tests;
