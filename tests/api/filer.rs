//! hfiler through the gateway: files under the root served and kept in Redis, ETags, and
//! nothing outside the root ever read, however the path asks for it.

use std::io::Read;

use crate::helpers::{free_ports, get_raw, unique_prefix, TempDir, TestApp, TestRedis};

/// A root with `static/app.css` and a link pointing out of it, beside a secret outside it.
struct Files {
    dir: TempDir,
}

impl Files {
    fn new(test: &str) -> Self {
        let dir = TempDir::new(test);
        dir.write("root/static/app.css", "body { color: teal; }\n");
        dir.write("root/static/big.css", big_css());
        dir.write("secret.txt", "not for clients");
        let outside = dir.path().join("secret.txt");
        std::os::unix::fs::symlink(outside, dir.path().join("root/static/link-out")).unwrap();
        Self { dir }
    }

    fn root(&self) -> String {
        self.dir.string("root")
    }
}

fn filer(redis: &TestRedis, prefix: &str, files: &Files) -> (TestApp, String) {
    filer_with(redis, prefix, files, &[])
}

/// A gateway and its filer, with more variables.
fn filer_with(
    redis: &TestRedis,
    prefix: &str,
    files: &Files,
    more: &[(&str, &str)],
) -> (TestApp, String) {
    let port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), prefix)
        .envs(&[
            ("GATEWAY_PORT", &port),
            ("GATEWAY_ROUTES", "^/static/=files"),
            ("FILER_QUEUE", "files"),
            ("FILER_ROOT", &files.root()),
        ])
        .envs(more)
        .start_process();
    (app, format!("http://127.0.0.1:{port}"))
}

/// 5 kB of CSS: compressible, and over the 1 kB from which hfiler compresses.
fn big_css() -> String {
    (0..100)
        .map(|n| format!(".rule-{n} {{ margin: {n}px; }}\n"))
        .collect()
}

#[actix_rt::test]
async fn a_file_is_served_kept_in_redis_and_answered_304_for_its_etag() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("filer");
    let files = Files::new("served");
    let (_app, base) = filer(&redis, &prefix, &files);
    let gateway = TestApp::connect(&base);
    let reply = gateway.get("/static/app.css").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "body { color: teal; }\n");
    assert_eq!(reply.content_type, "text/css; charset=utf-8");
    let etag = reply.header("etag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    let key = format!("{prefix}filer:/static/app.css");
    let ttl: i64 = redis.cli(&["TTL", &key]).parse().unwrap();
    assert!((1..=60).contains(&ttl), "kept for FILER_TTL_SECS: {ttl}");

    // Served from Redis while it is kept there, even with the file gone from the disk.
    std::fs::remove_file(files.dir.path().join("root/static/app.css")).unwrap();
    assert_eq!(
        gateway.get("/static/app.css").await.text(),
        "body { color: teal; }\n"
    );
    let unchanged = gateway
        .send(
            awc::http::Method::GET,
            "/static/app.css",
            &[("if-none-match", &etag)],
            Vec::new(),
        )
        .await;
    assert_eq!((unchanged.status, unchanged.body.len()), (304, 0));
    let missing = gateway.get("/static/nothing.css").await;
    assert_eq!(missing.status, 404);
}

#[actix_rt::test]
async fn nothing_outside_the_root_is_ever_read() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("filer-escape");
    let files = Files::new("escape");
    let (_app, base) = filer(&redis, &prefix, &files);
    for target in [
        "/static/../../secret.txt",
        "/static/%2e%2e/%2e%2e/secret.txt",
        "/static/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/static//etc/passwd",
        "/static/link-out",
        "/static/..%5c..%5csecret.txt",
    ] {
        let (status, body) = get_raw(&base, target);
        assert!(
            status.starts_with("HTTP/1.1 404"),
            "{target}: {status} {body}"
        );
        assert!(!body.contains("not for clients"), "{target}: {body}");
    }
    assert_eq!(redis.cli(&["KEYS", &format!("{prefix}filer:*")]), "");
}

#[actix_rt::test]
async fn a_compressible_file_is_kept_gzipped_and_sent_so_only_to_clients_that_take_gzip() {
    use awc::http::Method;

    let redis = TestRedis::start();
    let prefix = unique_prefix("filer-gzip");
    let files = Files::new("gzip");
    let (_app, base) = filer(&redis, &prefix, &files);
    let gateway = TestApp::connect(&base);
    let accepts = [("accept-encoding", "gzip, deflate")];
    let compressed = gateway
        .send(Method::GET, "/static/big.css", &accepts, Vec::new())
        .await;
    assert_eq!(compressed.status, 200);
    assert_eq!(compressed.header("content-encoding"), "gzip");
    assert_eq!(compressed.header("vary"), "accept-encoding");
    assert!(
        compressed.body.len() < big_css().len() / 2,
        "{} bytes",
        compressed.body.len()
    );
    let mut plain = String::new();
    flate2::read::GzDecoder::new(compressed.body.as_slice())
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, big_css());
    assert_eq!(
        redis.cli(&["HGET", &format!("{prefix}filer:/static/big.css"), "gzip"]),
        "1"
    );

    let refusing = [("accept-encoding", "gzip;q=0")];
    for headers in [&[][..], &refusing[..]] {
        let reply = gateway
            .send(Method::GET, "/static/big.css", headers, Vec::new())
            .await;
        assert_eq!(reply.header("content-encoding"), "");
        assert_eq!(reply.text(), big_css());
        assert_ne!(reply.header("etag"), compressed.header("etag"));
    }
    // The small file is kept as it is.
    let small = gateway
        .send(Method::GET, "/static/app.css", &accepts, Vec::new())
        .await;
    assert_eq!(
        (small.header("content-encoding"), small.text().as_str()),
        ("", "body { color: teal; }\n")
    );
}

#[actix_rt::test]
async fn the_first_matching_expiry_rule_sets_the_redis_lifetime_and_max_age() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("filer-expiry");
    let files = Files::new("expiry");
    files.dir.write("root/static/a.js", "let a = 1;\n");
    files.dir.write("root/static/other.txt", "other\n");
    files.dir.write("root/static/b;v=2.txt", "versioned\n");
    // The second rule's `;` is written \x3B, its `=` as it is: the last `=` ends the expression.
    let rules = r"^/static/fresh/=0;\x3Bv=2\.txt$=30;\.css$=3600;^/static/a=600";
    let more = [("FILER_EXPIRY", rules), ("FILER_TTL_SECS", "90")];
    let (_app, base) = filer_with(&redis, &prefix, &files, &more);
    let gateway = TestApp::connect(&base);
    // app.css matches `\.css$` and `^/static/a`: the first, 3600, wins.
    for (path, secs) in [
        ("/static/app.css", 3600),
        ("/static/a.js", 600),
        ("/static/b;v=2.txt", 30),
        ("/static/other.txt", 90),
    ] {
        let reply = gateway.get(path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        assert_eq!(reply.header("cache-control"), format!("max-age={secs}"));
        let ttl: i64 = redis
            .cli(&["TTL", &format!("{prefix}filer:{path}")])
            .parse()
            .unwrap();
        assert!(
            (secs - 5..=secs).contains(&ttl),
            "{path}: TTL {ttl}, not {secs}"
        );
    }
}

#[actix_rt::test]
async fn a_file_whose_rule_says_0_is_never_kept_and_read_afresh_each_time() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("filer-expiry-0");
    let files = Files::new("expiry-0");
    files.dir.write("root/static/fresh/note.css", "first\n");
    let more = [("FILER_EXPIRY", r"^/static/fresh/=0;\.css$=3600")];
    let (_app, base) = filer_with(&redis, &prefix, &files, &more);
    let gateway = TestApp::connect(&base);
    let first = gateway.get("/static/fresh/note.css").await;
    assert_eq!((first.status, first.text().as_str()), (200, "first\n"));
    assert_eq!(first.header("cache-control"), "max-age=0");
    let key = format!("{prefix}filer:/static/fresh/note.css");
    assert_eq!(redis.cli(&["EXISTS", &key]), "0");
    files.dir.write("root/static/fresh/note.css", "second\n");
    assert_eq!(
        gateway.get("/static/fresh/note.css").await.text(),
        "second\n"
    );
    // The next rule still applies to the others.
    let kept = gateway.get("/static/app.css").await;
    assert_eq!(kept.header("cache-control"), "max-age=3600");
}

#[actix_rt::test]
async fn without_gzip_files_are_kept_and_sent_as_they_are_even_one_kept_compressed() {
    use awc::http::Method;

    let redis = TestRedis::start();
    let prefix = unique_prefix("filer-no-gzip");
    let files = Files::new("no-gzip");
    files.dir.write("root/static/other.css", big_css());
    let accepts = [("accept-encoding", "gzip, deflate")];
    // A filer that compresses keeps big.css gzipped first.
    let (mut compressing, base) = filer(&redis, &prefix, &files);
    let reply = TestApp::connect(&base)
        .send(Method::GET, "/static/big.css", &accepts, Vec::new())
        .await;
    assert_eq!(reply.header("content-encoding"), "gzip");
    compressing.kill();
    let big_key = format!("{prefix}filer:/static/big.css");
    assert_eq!(redis.cli(&["HGET", &big_key, "gzip"]), "1");

    let (_plain, base) = filer_with(&redis, &prefix, &files, &[("FILER_GZIP", "false")]);
    let gateway = TestApp::connect(&base);
    for path in ["/static/big.css", "/static/other.css"] {
        let reply = gateway.send(Method::GET, path, &accepts, Vec::new()).await;
        assert_eq!(reply.status, 200, "{path}");
        let headers = (reply.header("content-encoding"), reply.header("vary"));
        assert_eq!(headers, ("", ""), "{path}");
        assert_eq!(reply.text(), big_css(), "{path}");
    }
    // What it kept itself is kept as it is.
    let other_key = format!("{prefix}filer:/static/other.css");
    assert_eq!(redis.cli(&["HGET", &other_key, "gzip"]), "0");
    let kept = redis.cli(&["HGET", &other_key, "body"]);
    assert_eq!(kept.trim_end(), big_css().trim_end());
}
