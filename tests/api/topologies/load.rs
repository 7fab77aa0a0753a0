//! What the failover-under-load tests share: paced requests through a gateway, a producer
//! whose pushes a replica confirmed, and the count of what the lists hold afterwards.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::helpers::TestApp;

/// `count` requests to `/`, one every 2 ms from `started`, 64 at most at once: each answer's
/// status and when it came (since `started`). None may take past `GATEWAY_TIMEOUT_MS` (5 s)
/// and the 750 ms Redis bound.
pub async fn paced_requests(
    gateway: &TestApp,
    count: usize,
    started: Instant,
) -> Vec<(u16, Duration)> {
    futures_util::stream::iter(0..count)
        .map(|n| async move {
            actix_rt::time::sleep_until((started + Duration::from_millis(2 * n as u64)).into())
                .await;
            let sent = Instant::now();
            let status = gateway.get("/").await.status;
            assert!(sent.elapsed() < Duration::from_secs(6), "an answer in time");
            (status, started.elapsed())
        })
        .buffer_unordered(64)
        .collect()
        .await
}

/// The answers that were not 200, each a 503 or a 504, and the failover window: from the
/// first of them to the last.
pub fn failover_window(answers: &[(u16, Duration)]) -> (usize, Duration) {
    let mut failed: Vec<&(u16, Duration)> = answers.iter().filter(|(s, _)| *s != 200).collect();
    failed.sort_by_key(|(_, at)| *at);
    assert!(
        failed.iter().all(|(status, _)| [503, 504].contains(status)),
        "{failed:?}"
    );
    let window = match (failed.first(), failed.last()) {
        (Some((_, first)), Some((_, last))) => *last - *first,
        _ => Duration::ZERO,
    };
    (failed.len(), window)
}

/// Pushes messages onto `list`, 50 at a time every 20 ms, each batch followed by `WAIT 1` on
/// the same connection, until a replica has confirmed `count`. `redis_cli(batch)` gives the
/// `redis-cli` arguments that reach the list's master for that batch (none: skip it). A batch
/// that fails is not sent again: the next one has new messages, so none can be held twice by
/// being sent twice. Answers the confirmed messages.
pub fn produce_confirmed(
    list: &str,
    count: usize,
    redis_cli: &dyn Fn(u64) -> Option<Vec<String>>,
) -> Vec<String> {
    let mut confirmed = Vec::new();
    let started = Instant::now();
    let mut sent = 0;
    for batch in 0.. {
        if confirmed.len() >= count {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never confirmed {count}"
        );
        let due = started + Duration::from_millis(20 * batch);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let messages: Vec<String> = (sent..sent + 50).map(|n| format!("m{n}")).collect();
        sent += 50;
        let Some(args) = redis_cli(batch) else {
            continue;
        };
        let script = format!("LPUSH {list} {}\nWAIT 1 1000\n", messages.join(" "));
        let mut cli = Command::new("redis-cli")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        cli.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let output = cli.wait_with_output().unwrap();
        let answers: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        if answers.len() == 2 && answers[0].parse::<u64>().is_ok() && answers[1] != "0" {
            confirmed.extend(messages);
        }
    }
    confirmed
}

/// Checks that `held` (every message the lists hold afterwards) has each message once and
/// every `confirmed` one; answers how many are held.
pub fn every_confirmed_message_once(held: &[String], confirmed: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for message in held {
        *counts.entry(message).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "none twice: {twice:?}");
    let lost: Vec<_> = confirmed
        .iter()
        .filter(|m| !counts.contains_key(m.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "none lost: {} of {}",
        lost.len(),
        confirmed.len()
    );
    held.len()
}
