//! [`IdleTimeout`]: a stream that gives up when its source goes quiet for too long.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::time::{sleep, Instant, Sleep};

/// Passes on `inner`'s items, but ends with a `TimedOut` error when `limit` passes without
/// one. A relayed body whose source stalls then fails instead of holding its client forever.
pub struct IdleTimeout<S> {
    inner: S,
    limit: Duration,
    /// Made on the first wait only: most bodies arrive whole and never need a timer.
    deadline: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: None,
            expired: false,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, T, E> Stream for IdleTimeout<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: From<io::Error>,
{
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                if let Some(deadline) = &mut this.deadline {
                    deadline.as_mut().reset(Instant::now() + this.limit);
                }
                Poll::Ready(item)
            }
            Poll::Pending => {
                let limit = this.limit;
                let deadline = this.deadline.get_or_insert_with(|| Box::pin(sleep(limit)));
                if deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.expired = true;
                let quiet = format!("no data for {} ms", limit.as_millis());
                Poll::Ready(Some(Err(
                    io::Error::new(io::ErrorKind::TimedOut, quiet).into()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream::{self, StreamExt};

    type Item = Result<u8, io::Error>;

    #[actix::test]
    async fn a_steady_stream_passes_whole() {
        // 180 ms in all, never 100 ms quiet: the limit counts from the last item.
        let ticking = stream::iter([1u8, 2, 3]).then(|n| async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            Ok::<_, io::Error>(n)
        });
        let guarded = IdleTimeout::new(Box::pin(ticking), Duration::from_millis(100));
        let items: Vec<Item> = guarded.collect().await;
        let values: Vec<u8> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, [1, 2, 3]);
    }

    #[actix::test]
    async fn a_stalled_stream_ends_with_timed_out() {
        let stalls = stream::iter([Ok::<_, io::Error>(1u8)]).chain(stream::pending());
        let mut guarded = IdleTimeout::new(Box::pin(stalls), Duration::from_millis(50));
        assert_eq!(guarded.next().await.unwrap().unwrap(), 1);
        let started = Instant::now();
        let err = guarded.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(guarded.next().await.is_none());
    }
}
