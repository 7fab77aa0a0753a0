//! One store, whatever connection or worker thread a request arrives on.

use crate::helpers::TestApp;
use futures_util::future::join_all;

/// A second handle on the same server: its own client, so its own connections.
fn another_client(app: &TestApp) -> TestApp {
    TestApp::connect(&app.base)
}

#[actix_rt::test]
async fn a_put_is_seen_by_the_next_get_on_any_connection() {
    let writer = TestApp::builder().start();
    let readers: Vec<_> = (0..4).map(|_| another_client(&writer)).collect();
    for round in 0..50 {
        let value = format!("v{round}");
        assert!(writer.put_val("/kvs/seen", &value).await.status < 300);
        for reader in &readers {
            assert_eq!(reader.stored("seen").await.as_deref(), Some(value.as_str()));
        }
    }
}

#[actix_rt::test]
async fn concurrent_puts_to_one_key_end_in_one_agreed_value() {
    let app = TestApp::builder().start();
    let writers: Vec<_> = (0..32).map(|_| another_client(&app)).collect();
    let puts = writers
        .iter()
        .enumerate()
        .map(|(i, w)| async move { w.put_val("/kvs/contended", &format!("w{i}")).await });
    let statuses: Vec<u16> = join_all(puts).await.iter().map(|r| r.status).collect();

    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        31,
        "{statuses:?}"
    );
    let agreed = app.stored("contended").await.expect("a value");
    assert!(agreed.starts_with('w'));
    for reader in &writers {
        assert_eq!(
            reader.stored("contended").await.as_deref(),
            Some(agreed.as_str())
        );
    }
}
