//! The one loop actor every taker is built from (a gateway worker, a mover, vpush, a
//! deployer): a [`Taker`] is the loop's body, [`TakerActor`] runs it from the moment it starts
//! and, on [`StopTaking`], tells it to stop and answers once it has finished what it took.

use std::future::Future;

use actix::prelude::*;
use tokio::sync::watch;

use crate::error::{chain, ActorError};

/// Stops taking; answers once what was taken is finished and pushed (or Redis failed).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopTaking;

/// A loop that takes work from Redis until told to stop.
pub trait Taker: Sized + Unpin + 'static {
    /// Takes and handles until `stopping` turns true, then finishes what it holds.
    fn run(self, stopping: watch::Receiver<bool>) -> impl Future<Output = ()> + 'static;

    /// Runs this taker as an actor of its own on the calling thread.
    fn start_taking(self) -> Addr<TakerActor<Self>> {
        TakerActor {
            taker: Some(self),
            stopping: watch::channel(false).0,
            stopped: watch::channel(false).1,
        }
        .start()
    }
}

/// Runs a [`Taker`]'s loop in its context.
pub struct TakerActor<T> {
    /// Moved into the loop when the actor starts.
    taker: Option<T>,
    stopping: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

impl<T: Taker> Actor for TakerActor<T> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(taker) = self.taker.take() else {
            return;
        };
        let (done, stopped) = watch::channel(false);
        self.stopped = stopped;
        let running = taker.run(self.stopping.subscribe());
        ctx.spawn(fut::wrap_future(async move {
            running.await;
            let _ = done.send(true);
        }));
    }
}

impl<T: Taker> Handler<StopTaking> for TakerActor<T> {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopTaking, _: &mut Self::Context) -> Self::Result {
        let _ = self.stopping.send(true);
        let mut stopped = self.stopped.clone();
        Box::pin(async move {
            let _ = stopped.wait_for(|done| *done).await;
        })
    }
}

/// Waits until `registered` turns true (a taker's busy list must not exist before its
/// registration does, or it would be recovered from under it): false when `stopping` came
/// first.
pub async fn until_registered(
    registered: &watch::Receiver<bool>,
    stopping: &mut watch::Receiver<bool>,
) -> bool {
    let mut registered = registered.clone();
    let until_true = async {
        match registered.wait_for(|done| *done).await {
            Ok(_) => true,
            // The roster ended before it ever registered: no registration will come.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        registered = until_true => registered,
        _ = stopping.wait_for(|stop| *stop) => false,
    }
}

/// A taker's refusals by Redis (a key of another type: nothing to do until someone fixes it),
/// logged when they start and when they end, not at every retry. Outages are logged by the
/// Redis handle.
pub struct RefusalLog {
    /// Who is refused, as the log names it: `mover from <list>`.
    taker: String,
    /// What the taker does again once it is not: `moves again`.
    again: &'static str,
    refused: bool,
}

impl RefusalLog {
    pub fn new(taker: String, again: &'static str) -> Self {
        Self {
            taker,
            again,
            refused: false,
        }
    }

    /// After a step that failed with `err`.
    pub fn failed(&mut self, err: &ActorError) {
        if matches!(err, ActorError::Redis(_)) && !self.refused {
            log::error!("{}: {}", self.taker, chain(err));
            self.refused = true;
        }
    }

    /// After a step that went through.
    pub fn went_through(&mut self) {
        if self.refused {
            log::info!("{} {}", self.taker, self.again);
            self.refused = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix::test]
    async fn a_roster_gone_before_it_registered_never_counts_as_registered() {
        let (registered, watching) = watch::channel(false);
        drop(registered);
        let (stop, mut stopping) = watch::channel(false);
        let waiting = actix::spawn(async move { until_registered(&watching, &mut stopping).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "taken for registered");
        stop.send(true).unwrap();
        assert!(!waiting.await.unwrap());
    }

    #[actix::test]
    async fn a_registration_lets_the_taker_start() {
        let (registered, watching) = watch::channel(false);
        let (_stop, mut stopping) = watch::channel(false);
        registered.send(true).unwrap();
        assert!(until_registered(&watching, &mut stopping).await);
    }
}
