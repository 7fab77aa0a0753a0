//! [`ConnectionClock`]: when a connection's next request head is due.
//!
//! actix-http bounds only the first request head of a connection; a kept-alive connection that
//! trickles the next head one byte at a time stays open for ever. The clock is shared by the
//! connection's stream ([`super::stream::GuardedStream`], which enforces it) and the requests
//! that arrive on it ([`super::requests`], which tell it when a head has arrived and when its
//! answer is done). Both live on the connection's worker thread.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone)]
pub struct ConnectionClock(Rc<Inner>);

struct Inner {
    limit: Duration,
    /// Requests whose head has arrived and whose answer is not done.
    in_flight: Cell<usize>,
    /// While none is in flight: when the next head must be in. It only ever moves later.
    head_due: Cell<Option<Instant>>,
}

impl ConnectionClock {
    /// A new connection: its first head is due within `limit`.
    pub fn new(limit: Duration) -> Self {
        Self(Rc::new(Inner {
            limit,
            in_flight: Cell::new(0),
            head_due: Cell::new(Some(Instant::now() + limit)),
        }))
    }

    pub fn limit(&self) -> Duration {
        self.0.limit
    }

    /// When the next head is due; `None` while a request is being answered.
    pub fn head_due(&self) -> Option<Instant> {
        self.0.head_due.get()
    }

    /// A request's head has arrived whole.
    pub fn head_arrived(&self) {
        self.0.in_flight.set(self.0.in_flight.get() + 1);
        self.0.head_due.set(None);
    }

    /// A request's answer is done (sent whole, failed, or dropped): the next head is due.
    /// Nothing is woken: a client that then sends nothing at all is closed by the keep-alive
    /// timer (never longer than the limit), and one that sends a byte parks the stream on the
    /// head timer.
    pub fn answer_done(&self) {
        let in_flight = self.0.in_flight.get().saturating_sub(1);
        self.0.in_flight.set(in_flight);
        if in_flight == 0 {
            self.0.head_due.set(Some(Instant::now() + self.0.limit));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_head_is_due_only_while_no_request_is_answered() {
        let clock = ConnectionClock::new(Duration::from_secs(1));
        let first_due = clock.head_due().expect("due from the start");
        clock.head_arrived();
        assert_eq!(clock.head_due(), None);
        clock.answer_done();
        assert!(clock.head_due().expect("due again") >= first_due);
        // Pipelined: two heads in, one answered, none due yet.
        clock.head_arrived();
        clock.head_arrived();
        clock.answer_done();
        assert_eq!(clock.head_due(), None);
        clock.answer_done();
        assert!(clock.head_due().is_some());
    }
}
