//! [`GuardedStream`]: a client connection that cannot be held open by a slow or silent client.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep_until, Instant, Sleep};

use super::clock::ConnectionClock;

/// Wraps a client's stream with two limits:
/// - a request head must arrive whole by the time the [`ConnectionClock`] says, on every
///   request of the connection, however the bytes trickle in;
/// - a write that makes no progress for the clock's limit (the client does not read its
///   answer) fails.
///
/// Either failure is an I/O error: the connection is closed.
pub struct GuardedStream<S> {
    inner: S,
    clock: ConnectionClock,
    /// Made on the first wait only: most reads and writes complete at once.
    head_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// Whether the last write waited: the write timer counts from the first wait.
    write_waiting: bool,
}

impl<S> GuardedStream<S> {
    pub fn new(inner: S, clock: ConnectionClock) -> Self {
        Self {
            inner,
            clock,
            head_timer: None,
            write_timer: None,
            write_waiting: false,
        }
    }

    pub fn clock(&self) -> &ConnectionClock {
        &self.clock
    }

    /// Waits on the head deadline too; `Ready` when it has passed. The timer is not moved for
    /// every request: deadlines only move later, so a timer set for an earlier head fires
    /// early and is set again then, at most once per limit.
    fn head_overdue(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(due) = self.clock.head_due() else {
            return Poll::Pending;
        };
        let timer = self
            .head_timer
            .get_or_insert_with(|| Box::pin(sleep_until(due)));
        while timer.as_mut().poll(cx).is_ready() {
            if due <= Instant::now() {
                return Poll::Ready(());
            }
            timer.as_mut().reset(due);
        }
        Poll::Pending
    }

    /// Counts a write that could not go on; `Ready` when it has waited the limit.
    fn write_stalled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let due = Instant::now() + self.clock.limit();
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(sleep_until(due)));
        if !self.write_waiting {
            self.write_waiting = true;
            timer.as_mut().reset(due);
        }
        timer.as_mut().poll(cx)
    }

    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(done) => {
                self.write_waiting = false;
                Poll::Ready(done)
            }
            Poll::Pending => match self.write_stalled(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Err(timed_out("the client did not read its answer")))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Checked before reading, so a head that trickles in is cut off too.
        if this
            .clock
            .head_due()
            .is_some_and(|due| due <= Instant::now())
        {
            return Poll::Ready(Err(timed_out("the request head did not arrive in time")));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(done) => Poll::Ready(done),
            Poll::Pending => match this.head_overdue(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Err(timed_out("the request head did not arrive in time")))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.after_write(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after_write(cx, result)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    use super::*;

    const LIMIT: Duration = Duration::from_millis(100);

    #[actix_rt::test]
    async fn a_head_that_does_not_come_in_time_is_an_error() {
        let (server_side, _client) = duplex(64);
        let mut stream = GuardedStream::new(server_side, ConnectionClock::new(LIMIT));
        let started = std::time::Instant::now();
        let err = stream.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < 10 * LIMIT);
    }

    #[actix_rt::test]
    async fn bytes_trickling_in_do_not_extend_the_deadline() {
        let (server_side, mut client) = duplex(64);
        let mut stream = GuardedStream::new(server_side, ConnectionClock::new(LIMIT));
        let mut buf = [0u8; 8];
        let mut outcome = Ok(0);
        for _ in 0..20 {
            client.write_all(b"G").await.unwrap();
            outcome = stream.read(&mut buf).await;
            if outcome.is_err() {
                break;
            }
            tokio::time::sleep(LIMIT / 4).await;
        }
        assert_eq!(outcome.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[actix_rt::test]
    async fn reads_have_no_deadline_while_a_request_is_answered() {
        let (server_side, mut client) = duplex(64);
        let clock = ConnectionClock::new(LIMIT);
        let mut stream = GuardedStream::new(server_side, clock.clone());
        clock.head_arrived();
        tokio::time::sleep(2 * LIMIT).await;
        client.write_all(b"body").await.unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"body");
    }

    #[actix_rt::test]
    async fn the_next_head_gets_its_own_full_limit() {
        let (server_side, mut client) = duplex(64);
        let clock = ConnectionClock::new(LIMIT);
        let mut stream = GuardedStream::new(server_side, clock.clone());
        // The first head arrives and its timer is set; its answer ends after that timer's time.
        client.write_all(b"G").await.unwrap();
        assert_eq!(stream.read(&mut [0u8; 8]).await.unwrap(), 1);
        let waiting = tokio::time::timeout(LIMIT / 2, stream.read(&mut [0u8; 8])).await;
        assert!(waiting.is_err(), "nothing more was sent");
        clock.head_arrived();
        tokio::time::sleep(LIMIT).await;
        clock.answer_done();
        let answered = std::time::Instant::now();
        let err = stream.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let waited = answered.elapsed();
        assert!(
            waited >= LIMIT - LIMIT / 10 && waited < 5 * LIMIT,
            "{waited:?}"
        );
    }

    #[actix_rt::test]
    async fn a_write_the_client_does_not_read_fails_after_the_limit() {
        let (server_side, _client) = duplex(64);
        let clock = ConnectionClock::new(LIMIT);
        clock.head_arrived();
        let mut stream = GuardedStream::new(server_side, clock);
        let err = stream.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
