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
        beats: u32,
    }

    impl Actor for Counter {
        type Context = Context<Self>;

        fn started(&mut self, ctx: &mut Self::Context) {
            every(ctx, Duration::from_millis(20), FirstBeat::AtOnce, |act| {
                act.beats += 1;
                act.started.borrow_mut().push(act.beats);
                Box::pin(fut::wrap_future(tokio::time::sleep(act.beat_takes)))
            });
        }
    }

    #[actix::test]
    async fn the_first_beat_comes_at_once_and_the_next_each_period() {
        let started = Rc::default();
        let _counter = Counter {
            started: Rc::clone(&started),
            beat_takes: Duration::ZERO,
            beats: 0,
        }
        .start();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(*started.borrow(), vec![1]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(started.borrow().len() >= 4, "{:?}", started.borrow());
    }

    #[actix::test]
    async fn a_beat_still_running_makes_the_next_ones_skip() {
        let started = Rc::default();
        let _counter = Counter {
            started: Rc::clone(&started),
            beat_takes: Duration::from_millis(200),
            beats: 0,
        }
        .start();
        tokio::time::sleep(Duration::from_millis(150)).await;
        // Seven periods passed; the first beat is still running, so no other began.
        assert_eq!(*started.borrow(), vec![1]);
    }
}
