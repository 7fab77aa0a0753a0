//! [`RunLoop`]: the stop switch of an actor whose work is one loop (a worker, a mover): the
//! loop runs in the actor's context and watches `stopping`; a stop waits until it has ended.

use std::future::Future;

use actix::prelude::*;
use tokio::sync::watch;

use crate::error::{chain, ActorError};

pub struct RunLoop {
    stopping: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

impl Default for RunLoop {
    fn default() -> Self {
        let (stopping, _) = watch::channel(false);
        let (_, stopped) = watch::channel(false);
        Self { stopping, stopped }
    }
}

impl RunLoop {
    /// Runs the loop `run` makes from the stop signal, in `ctx`.
    pub fn spawn<A, F>(
        &mut self,
        ctx: &mut Context<A>,
        run: impl FnOnce(watch::Receiver<bool>) -> F,
    ) where
        A: Actor<Context = Context<A>>,
        F: Future<Output = ()> + 'static,
    {
        let (done, stopped) = watch::channel(false);
        self.stopped = stopped;
        let running = run(self.stopping.subscribe());
        ctx.spawn(fut::wrap_future(async move {
            running.await;
            let _ = done.send(true);
        }));
    }

    /// Tells the loop to stop; the future ends once it has.
    pub fn stop(&self) -> impl Future<Output = ()> + 'static {
        let _ = self.stopping.send(true);
        let mut stopped = self.stopped.clone();
        async move {
            let _ = stopped.wait_for(|done| *done).await;
        }
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
    tokio::select! {
        _ = registered.wait_for(|done| *done) => true,
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
