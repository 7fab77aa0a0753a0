//! [`every`]: an actor's heartbeat. Work run every period, never two at once: a beat still
//! running when the next is due (Redis slow to answer) makes that one skip, so beats never pile
//! up behind an outage.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;

/// One beat's work, which may read and change the actor when it ends.
pub type Beat<A> = Pin<Box<dyn ActorFuture<A, Output = ()>>>;

/// When the first beat comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstBeat {
    /// As the actor starts.
    AtOnce,
    /// One period after it starts.
    AfterPeriod,
}

/// Runs `beat` on the actor every `period` for as long as it lives.
pub fn every<A>(
    ctx: &mut Context<A>,
    period: Duration,
    first: FirstBeat,
    beat: fn(&mut A) -> Beat<A>,
) where
    A: Actor<Context = Context<A>>,
{
    let running = Rc::new(Cell::new(false));
    let tick = move |act: &mut A, ctx: &mut Context<A>| {
        if running.replace(true) {
            return;
        }
        let running = Rc::clone(&running);
        ctx.spawn(beat(act).map(move |(), _, _| running.set(false)));
    };
    if first == FirstBeat::AtOnce {
        ctx.run_later(Duration::ZERO, tick.clone());
    }
    ctx.run_interval(period, tick);
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Counts its beats; each takes `beat_takes`.
    struct Counter {
        started: Rc<RefCell<Vec<u32>>>,
        beat_takes: Duration,
        period: Duration,
        beats: u32,
    }

    impl Actor for Counter {
        type Context = Context<Self>;

        fn started(&mut self, ctx: &mut Self::Context) {
            every(ctx, self.period, FirstBeat::AtOnce, |act| {
                act.beats += 1;
                act.started.borrow_mut().push(act.beats);
                Box::pin(fut::wrap_future(tokio::time::sleep(act.beat_takes)))
            });
        }
    }

    /// Polls `done` every 5 ms until it holds, for at most `within`.
    async fn until(within: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !done() {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    #[actix::test]
    async fn the_first_beat_comes_at_once_and_the_next_each_period() {
        let started: Rc<RefCell<Vec<u32>>> = Rc::default();
        let _counter = Counter {
            started: Rc::clone(&started),
            beat_takes: Duration::ZERO,
            period: Duration::from_secs(1),
            beats: 0,
        }
        .start();
        // Well before the first period ends.
        assert!(until(Duration::from_millis(500), || started.borrow().len() == 1).await);
        assert!(until(Duration::from_secs(3), || started.borrow().len() >= 2).await);
    }

    #[actix::test]
    async fn a_beat_still_running_makes_the_next_ones_skip() {
        let started: Rc<RefCell<Vec<u32>>> = Rc::default();
        let _counter = Counter {
            started: Rc::clone(&started),
            beat_takes: Duration::from_secs(10),
            period: Duration::from_millis(20),
            beats: 0,
        }
        .start();
        assert!(until(Duration::from_millis(500), || !started.borrow().is_empty()).await);
        // Fifteen periods pass; the first beat is still running, so no other begins.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(*started.borrow(), vec![1]);
    }
}
