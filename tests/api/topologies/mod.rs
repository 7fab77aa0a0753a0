//! switchyard on Redis as users run it: over TLS, behind sentinels, on a cluster. Each test starts its own
//! servers (helpers/topology.rs) and switchyard as a child process configured by its variables.

use std::time::{Duration, Instant};

use crate::helpers::{until, TestApp};

mod cluster;
mod cluster_load;
mod cluster_tracking;
mod load;
mod roles;
mod sentinel;
mod tls;

/// Asks `/set` of `app`, whose Redis cannot be reached, until the outage is logged (a line
/// holding `text`), then three times more: each answered 503 within 1 s, and the one line
/// logged, not one per request.
async fn refused_and_logged_once(app: &TestApp, text: &str) -> String {
    let refused = || async {
        let started = Instant::now();
        let reply = app.get("/set").await;
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert!(started.elapsed() < Duration::from_secs(1));
    };
    until(Duration::from_secs(5), "the outage is logged", || async {
        refused().await;
        (!app.logged(text).is_empty()).then_some(())
    })
    .await;
    for _ in 0..3 {
        refused().await;
    }
    let logged = app.logged(text);
    assert_eq!(logged.len(), 1, "{logged:?}");
    logged[0].clone()
}
