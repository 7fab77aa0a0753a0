//! [`Vpush`]: moves messages from a list on this Redis to a list on another, oldest first, at
//! most one in flight across all replicas (docs/services.md).
//!
//! The replica holding the lease takes the oldest message into a pending slot with a sequence
//! number, pushes it on the remote in a script that first writes an idempotency mark for that
//! number (so a message delivered by a replica that died before removing it is not pushed
//! again by the next), then removes it and takes the next in one script. Delivery is retried
//! forever, with a backoff from 100 ms to 5 s.

use std::collections::VecDeque;
use std::time::Duration;

use redis_async::resp::{FromResp, RespValue};
use tokio::sync::watch;
use tokio::time::Instant;

mod scripts;

use scripts::{DELIVER, DONE_AND_CLAIM, MARK_LIFETIME_MS};

use crate::error::{chain, ActorError};
use crate::ops::metrics::{Metrics, Operation};
use crate::redis::{eval, hold_lease, vpush_mark, Redis, COMMAND_TIMEOUT};
use crate::run_loop::Taker;

/// The longest a `BLMOVE` blocks when the input is empty (at most a heartbeat, so the lease is
/// renewed in time): also how soon a stopping mover notices.
const BLOCK: Duration = Duration::from_secs(1);

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// Where vpush moves from and to.
#[derive(Debug, Clone)]
pub struct VpushRoute {
    /// The input, a full key on the source Redis.
    pub input: String,
    /// The output, a full key on the remote Redis.
    pub output: String,
    /// The prefix on the remote, under which the marks are kept.
    pub remote_prefix: String,
}

/// Moves from a list on this Redis to one on another, one in flight across replicas; runs as
/// a [`TakerActor`](crate::run_loop::TakerActor).
pub struct Vpush {
    /// The source Redis, this replica's own connection: it blocks.
    source: Redis,
    remote: Redis,
    route: VpushRoute,
    replica: String,
    lease_lifetime: Duration,
    heartbeat: Duration,
    metrics: Metrics,
}

/// Messages held pending: the one being delivered and the next, so the source's round trip for
/// the next runs while the remote's for this one does. Only one is ever being delivered.
const HELD_PENDING: usize = 2;

/// A pending message and its number.
type Numbered = (String, Vec<u8>);

/// What the source answered to a claim.
enum Claim {
    /// Another replica holds the lease.
    Lost,
    /// The pending messages, oldest first; none when the input was empty too.
    Pending(Vec<Numbered>),
}

impl Vpush {
    /// `source` must be this replica's own connection (it blocks); `replica` its unique id.
    pub fn new(
        source: Redis,
        remote: Redis,
        route: VpushRoute,
        replica: String,
        heartbeat: Duration,
        metrics: Metrics,
    ) -> Self {
        Self {
            source,
            remote,
            route,
            replica,
            lease_lifetime: heartbeat * 3,
            heartbeat,
            metrics,
        }
    }
}

impl Taker for Vpush {
    async fn run(self, stopping: watch::Receiver<bool>) {
        // Delivered and not yet removed from the pending list: removed by the next claim.
        let mut delivered: Option<String> = None;
        // Pending behind the one being delivered, as the last claim answered.
        let mut ahead: VecDeque<Numbered> = VecDeque::new();
        let mut source_id: Option<String> = None;
        while !*stopping.borrow() {
            let source = match &source_id {
                Some(id) => id.clone(),
                None => match self.source_id().await {
                    Ok(id) => source_id.insert(id).clone(),
                    Err(_) => {
                        tokio::time::sleep(FIRST_RETRY).await;
                        continue;
                    }
                },
            };
            if ahead.is_empty() {
                match self
                    .done_and_claim(delivered.take().as_deref(), HELD_PENDING)
                    .await
                {
                    Ok(Claim::Pending(pending)) if pending.is_empty() => {
                        let _ = self.wait_for_input().await;
                        continue;
                    }
                    Ok(Claim::Pending(pending)) => ahead = pending.into(),
                    Ok(Claim::Lost) => {
                        self.wait_for_lease(&stopping).await;
                        continue;
                    }
                    // Redis's outage is logged by its handle.
                    Err(_) => {
                        tokio::time::sleep(FIRST_RETRY).await;
                        continue;
                    }
                }
            }
            let Some((id, message)) = ahead.pop_front() else {
                continue;
            };
            // This one to the remote while the source removes the one before and takes the
            // next: one round trip's time per message.
            let (sent, claimed) = futures_util::future::join(
                self.deliver(&source, &id, message, &stopping),
                self.done_and_claim(delivered.take().as_deref(), HELD_PENDING),
            )
            .await;
            match claimed {
                Ok(Claim::Pending(pending)) if sent => {
                    ahead = pending
                        .into_iter()
                        .filter(|(next, _)| *next != id)
                        .collect();
                }
                Ok(Claim::Lost) => {
                    ahead.clear();
                    self.wait_for_lease(&stopping).await;
                    continue;
                }
                // Not delivered (stopping, or the lease lost), or the claim failed: the next
                // claim says what is pending; a message delivered twice is kept from arriving
                // twice by its mark.
                _ => ahead.clear(),
            }
            if sent {
                delivered = Some(id);
            }
        }
        if let Some(id) = delivered {
            // Removed now rather than by the next holder (who would find it marked anyway).
            let _ = self.done_and_claim(Some(&id), 0).await;
        }
    }
}

impl Vpush {
    fn key(&self, suffix: &str) -> String {
        format!("{}:vpush:{suffix}", self.route.input)
    }

    /// This source list's random id, set once for all replicas: it keeps the remote's marks of
    /// two sources apart.
    async fn source_id(&self) -> Result<String, ActorError> {
        let key = self.key("source");
        let set = RespValue::Array(vec![
            "SET".into(),
            key.as_str().into(),
            crate::random_id().into(),
            "NX".into(),
            "GET".into(),
        ]);
        let before: Option<String> = self.source.command(set).await?;
        match before {
            Some(id) => Ok(id),
            None => {
                let get = RespValue::Array(vec!["GET".into(), key.as_str().into()]);
                let id: Option<String> = self.source.command(get).await?;
                id.ok_or_else(|| ActorError::Redis(crate::error::Cause::described("no source id")))
            }
        }
    }

    async fn done_and_claim(
        &self,
        delivered: Option<&str>,
        hold: usize,
    ) -> Result<Claim, ActorError> {
        let keys = [
            self.key("lease"),
            self.route.input.clone(),
            self.key("pending"),
            self.key("pending-numbers"),
            self.key("seq"),
        ];
        let args = [
            self.replica.clone(),
            self.lease_lifetime.as_millis().to_string(),
            delivered.unwrap_or("").to_owned(),
            hold.to_string(),
        ];
        let answer: RespValue = self
            .source
            .command(eval(DONE_AND_CLAIM, &keys, &args))
            .await?;
        if matches!(&answer, RespValue::BulkString(lost) if lost == b"lost") {
            return Ok(Claim::Lost);
        }
        let flat = Vec::<Vec<u8>>::from_resp(answer)
            .map_err(|err| ActorError::Redis(crate::error::Cause::new(err)))?;
        let mut pending = Vec::with_capacity(flat.len() / 2);
        let mut parts = flat.into_iter();
        while let (Some(id), Some(message)) = (parts.next(), parts.next()) {
            pending.push((String::from_utf8_lossy(&id).into_owned(), message));
        }
        Ok(Claim::Pending(pending))
    }

    /// Pushes `message` on the remote until it is there (or this replica stops, or loses the
    /// lease): answers whether it was delivered.
    async fn deliver(
        &self,
        source: &str,
        id: &str,
        message: Vec<u8>,
        stopping: &watch::Receiver<bool>,
    ) -> bool {
        let output = self.route.output.as_str();
        let apart = |mark: &str| !self.remote.co_located(&[mark, output]);
        let mark = vpush_mark(&self.route.remote_prefix, output, apart, source, id);
        let mut retry = FIRST_RETRY;
        let mut outage_logged = false;
        let mut lease_renewed = Instant::now();
        let started = std::time::Instant::now();
        loop {
            let command = RespValue::Array(vec![
                "EVAL".into(),
                DELIVER.into(),
                "2".into(),
                mark.as_str().into(),
                self.route.output.as_str().into(),
                RespValue::BulkString(message.clone()),
                MARK_LIFETIME_MS.to_string().into(),
            ]);
            // Delivered once the remote's replicas hold it, where it has some: the source then
            // forgets it. Not confirmed, it is delivered again, and its mark keeps it single.
            let delivered = self.remote.command_replicated::<i64>(command).await;
            match delivered {
                Ok(_) => {
                    self.metrics.record(Operation::Mover, started.elapsed());
                    self.metrics.count_moved("vpush", 1);
                    if outage_logged {
                        log::info!("vpush to {} delivers again", self.route.output);
                    }
                    return true;
                }
                Err(err) => {
                    if !outage_logged {
                        log::warn!(
                            "vpush to {}: {}; retrying until it is delivered",
                            self.route.output,
                            chain(&err)
                        );
                        outage_logged = true;
                    }
                }
            }
            if *stopping.borrow() {
                return false;
            }
            self.metrics.count_retry("vpush");
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
            // Still the holder? Another replica may have taken over while the remote was down.
            if lease_renewed.elapsed() >= self.heartbeat {
                match self.hold_lease().await {
                    Ok(true) => lease_renewed = Instant::now(),
                    Ok(false) => return false,
                    Err(_) => {}
                }
            }
        }
    }

    async fn hold_lease(&self) -> Result<bool, ActorError> {
        hold_lease(
            &self.source,
            &self.key("lease"),
            &self.replica,
            self.lease_lifetime,
        )
        .await
    }

    /// Another replica moves: this one asks for the lease every heartbeat, so it takes over
    /// within three heartbeats of the holder's death.
    async fn wait_for_lease(&self, stopping: &watch::Receiver<bool>) {
        while !*stopping.borrow() {
            tokio::time::sleep(self.heartbeat).await;
            if matches!(self.hold_lease().await, Ok(true)) {
                return;
            }
        }
    }

    /// Waits for a message on the input, moving it into the pending slot (only the holder
    /// waits; the next claim numbers it).
    async fn wait_for_input(&self) -> Result<(), ActorError> {
        let block_for = BLOCK.min(self.heartbeat);
        let block = format!("{:.3}", block_for.as_secs_f64());
        let wait = RespValue::Array(vec![
            "BLMOVE".into(),
            self.route.input.as_str().into(),
            self.key("pending").into(),
            "RIGHT".into(),
            "LEFT".into(),
            block.as_str().into(),
        ]);
        let _: RespValue = self
            .source
            .command_by(Instant::now() + block_for + COMMAND_TIMEOUT, wait)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
