//! The dashboard in a real browser: headless Chromium loads the page against a running
//! instance, its script fetches `/status`, and the rendered DOM shows the numbers this test
//! created. A screenshot is kept in `target/test-artifacts/dashboard.png`.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use awc::http::Method;

use crate::helpers::{free_ports, unique_prefix, until, TempDir, TestApp, TestRedis};

/// Chromium's rendering of `url` after its scripts ran, or a screenshot of it at `screenshot`.
pub fn chromium(url: &str, screenshot: Option<&str>) -> String {
    // A profile of its own: a second Chromium on the same profile hands its page to the first
    // and exits with nothing.
    static PROFILES: AtomicUsize = AtomicUsize::new(0);
    let profile = TempDir::new(&format!(
        "chromium-{}",
        PROFILES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut command = Command::new("chromium");
    command.arg(format!("--user-data-dir={}", profile.string("profile")));
    command.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,900",
        "--virtual-time-budget=3000",
    ]);
    match screenshot {
        Some(path) => command.arg(format!("--screenshot={path}")),
        None => command.arg("--dump-dom"),
    };
    let output = command
        .arg(url)
        .output()
        .expect("chromium is installed (scripts/test installs Debian's chromium)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[actix_rt::test]
async fn the_dashboard_shows_a_spawned_server_and_a_queue_s_length_in_a_real_browser() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("dashboard");
    let ports = free_ports(3);
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .envs(&[
            ("SPAWN_PORTS", &format!("{}-{}", ports.start(), ports.end())),
            ("LPUSH_IN", "in"),
            ("LPUSH_OUT", "out"),
        ])
        .start_process();
    let spawned = app.send(Method::POST, "/spawn", &[], Vec::new()).await;
    assert_eq!(spawned.status, 201);
    let url = spawned.json()["url"].as_str().unwrap().to_owned();
    for n in 0..7 {
        redis.cli(&["LPUSH", &format!("{prefix}out"), &format!("m{n}")]);
    }
    assert_eq!(app.put_val("/kvs/seen", "yes").await.status, 201);
    // The kvs measure reaches Redis at the next flush (once a second).
    until(
        Duration::from_secs(5),
        "the kvs metrics are flushed",
        || async {
            (redis.cli(&["HGET", &format!("{prefix}metrics:kvs"), "count"]) == "1").then_some(())
        },
    )
    .await;

    let page = format!("{}/dashboard", app.base);
    let dom = chromium(&page, None);
    assert!(
        dom.contains(&url),
        "the spawned server is not shown:\n{dom}"
    );
    let queue = format!(r#"{prefix}out</td><td class="n">7</td>"#);
    assert!(
        dom.contains(&queue),
        "the queue's length is not shown:\n{dom}"
    );
    assert!(
        dom.contains("1 measured, mean"),
        "the kvs histogram is not shown:\n{dom}"
    );
    assert!(
        dom.contains("PUT /kvs/seen"),
        "the visit is not shown:\n{dom}"
    );
    assert!(
        dom.contains("main,lpush"),
        "the service is not shown:\n{dom}"
    );

    let artifacts = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-artifacts");
    std::fs::create_dir_all(artifacts).unwrap();
    let screenshot = format!("{artifacts}/dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(&page, Some(&screenshot));
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "no screenshot at {screenshot} ({size} bytes)"
    );
}

#[actix_rt::test]
async fn the_page_is_small_and_loads_nothing_from_elsewhere() {
    let app = TestApp::builder().start();
    let page = app.get("/dashboard").await;
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.body.len() < 50_000, "{} bytes", page.body.len());
    let html = page.text();
    for loads in ["src=", "href=", "url(", "@import", "https://"] {
        assert!(!html.contains(loads), "the page loads something: {loads}");
    }
    // The only address in it is SVG's namespace, which names and loads nothing.
    assert_eq!(html.matches("http://").count(), 1);
    assert!(html.contains(r#""http://www.w3.org/2000/svg""#));
    assert!(page
        .header("content-security-policy")
        .contains("default-src 'none'"));
}

#[actix_rt::test]
async fn with_a_monitor_token_a_browser_given_it_sees_the_dashboard_and_one_without_does_not() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("dashboard-token");
    let token = "dashboard-monitor-t0ken";
    let app = TestApp::builder()
        .redis(&redis.url(), &prefix)
        .env("MONITOR_TOKEN", token)
        .start_process();
    let address = app.host_port();
    // The page's own requests for /status carry the Basic credentials the browser was given.
    let dom = chromium(&format!("http://ops:{token}@{address}/dashboard"), None);
    assert!(dom.contains("updated "), "the page did not update:\n{dom}");
    let pid = format!(r#"<td class="n">{}</td>"#, app.pid());
    assert!(dom.contains(&pid), "the service is not shown:\n{dom}");
    // Without it, headless Chromium gets the 401 (and gives up on the page at once).
    let refused = chromium(&format!("http://{address}/dashboard"), None);
    assert!(!refused.contains(&pid), "{refused}");
    assert!(!refused.contains("Live services"), "{refused}");
}
