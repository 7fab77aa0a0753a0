//! Waiting for something to become true: polled until a deadline, never a sleep then an
//! assertion.

use std::future::Future;
use std::time::{Duration, Instant};

/// Asks `check` every 20 ms until it answers `Some`, and answers that; fails the test, naming
/// `what`, when `limit` passes first.
pub async fn until<T, F>(limit: Duration, what: &str, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}
