//! hrender through the gateway: templates under the directory rendered with the query and Redis
//! data, escaped; a missing template 404, an error 500 naming the template and line; nothing
//! outside the directory ever read, by the request path or by an include.

use serde_json::Value;

use crate::helpers::{free_ports, get_raw, unique_prefix, TempDir, TestApp, TestRedis};

/// Templates: a page reading Redis, a partial it includes, a broken one, one including a
/// broken partial, one that never ends, one reading Redis too often; a secret outside.
fn templates(test: &str) -> TempDir {
    let dir = TempDir::new(test);
    dir.write(
        "templates/pages/hello.html",
        "{% include \"partials/head.html\" %}\n\
         <p>Hello {{ query.name }}</p>\n\
         {% set user = hash(\"user:1\") %}<p>{{ user.name }} is {{ user.age }}</p>\n\
         <ul>{% for item in list(\"news\") %}<li>{{ item }}</li>{% endfor %}</ul>\n\
         <p>{{ get(\"motd\") }}</p><p>{{ get(\"absent\") is none }}</p>",
    );
    dir.write("templates/partials/head.html", "<title>{{ path }}</title>");
    dir.write("templates/pages/index.html", "index of pages");
    dir.write(
        "templates/pages/broken.html",
        "line one\nline two\n{% for x in %}\n",
    );
    dir.write(
        "templates/pages/outer.html",
        "ok\n{% include \"partials/bad.html\" %}",
    );
    dir.write("templates/partials/bad.html", "a\nb\n{{ 1 + \"a\" }}");
    dir.write(
        "templates/pages/include-any.html",
        "{% include query.part %}",
    );
    dir.write(
        "templates/pages/forever.html",
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    );
    dir.write(
        "templates/pages/greedy.html",
        "{% for n in range(200) %}{{ get(\"k\") }}{% endfor %}",
    );
    dir.write("templates/pages/wrong-type.html", "{{ hash(\"news\") }}");
    dir.write("secret.html", "not for clients");
    std::os::unix::fs::symlink(
        dir.path().join("secret.html"),
        dir.path().join("templates/pages/link-out.html"),
    )
    .unwrap();
    dir
}

fn renderer(redis: &TestRedis, prefix: &str, dir: &TempDir) -> (TestApp, String) {
    let port = free_ports(1).start().to_string();
    let app = TestApp::builder()
        .redis(&redis.url(), prefix)
        .envs(&[
            ("GATEWAY_PORT", &port),
            ("GATEWAY_ROUTES", "^/pages/=pages"),
            ("RENDER_QUEUE", "pages"),
            ("TEMPLATES_DIR", &dir.string("templates")),
        ])
        .start_process();
    (app, format!("http://127.0.0.1:{port}"))
}

#[actix_rt::test]
async fn a_page_is_rendered_with_the_query_and_redis_data_and_escaped() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("render");
    let dir = templates("render");
    redis.cli(&[
        "HSET",
        &format!("{prefix}public:user:1"),
        "name",
        "Ada",
        "age",
        "36",
    ]);
    redis.cli(&[
        "RPUSH",
        &format!("{prefix}public:news"),
        "one",
        "<b>two</b>",
    ]);
    redis.cli(&["SET", &format!("{prefix}public:motd"), "tea & cake"]);
    // Outside the public namespace: never read by a template.
    redis.cli(&["SET", &format!("{prefix}motd"), "switchyard's own"]);
    let (_app, base) = renderer(&redis, &prefix, &dir);
    let gateway = TestApp::connect(&base);

    let page = gateway
        .get("/pages/hello?name=%3Cscript%3Ex%3C/script%3E")
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert_eq!(
        page.text(),
        "<title>&#x2f;pages&#x2f;hello</title>\n\
         <p>Hello &lt;script&gt;x&lt;&#x2f;script&gt;</p>\n\
         <p>Ada is 36</p>\n\
         <ul><li>one</li><li>&lt;b&gt;two&lt;&#x2f;b&gt;</li></ul>\n\
         <p>tea &amp; cake</p><p>True</p>"
    );
    let index = gateway.get("/pages/").await;
    assert_eq!(
        (index.status, index.text().as_str()),
        (200, "index of pages")
    );
    // Read at each render: a changed template is seen at once.
    dir.write("templates/pages/index.html", "changed");
    assert_eq!(gateway.get("/pages/").await.text(), "changed");
}

#[actix_rt::test]
async fn errors_name_the_template_and_line_and_missing_templates_are_404() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("render-errors");
    let dir = templates("render-errors");
    redis.cli(&["RPUSH", &format!("{prefix}public:news"), "one"]);
    let (_app, base) = renderer(&redis, &prefix, &dir);
    let gateway = TestApp::connect(&base);

    let missing = gateway.get("/pages/nothing").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "no such template");

    let broken = gateway.get("/pages/broken").await;
    assert_eq!(broken.status, 500);
    let body: Value = broken.json();
    assert_eq!(body["template"], "pages/broken.html", "{body}");
    assert_eq!(body["line"], 3, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("syntax error"),
        "{body}"
    );

    // An error in an included template names that template.
    let outer: Value = gateway.get("/pages/outer").await.json();
    assert_eq!(
        (&outer["template"], &outer["line"]),
        (&"partials/bad.html".into(), &3.into()),
        "{outer}"
    );

    let wrong_type = gateway.get("/pages/wrong-type").await;
    assert_eq!(wrong_type.status, 500);
    assert!(
        wrong_type.text().contains("WRONGTYPE"),
        "{}",
        wrong_type.text()
    );

    let started = std::time::Instant::now();
    let forever = gateway.get("/pages/forever").await;
    assert_eq!(forever.status, 500);
    assert!(forever.text().contains("fuel"), "{}", forever.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    let greedy = gateway.get("/pages/greedy").await;
    assert_eq!(greedy.status, 500);
    assert!(
        greedy.text().contains("more than 100 Redis reads"),
        "{}",
        greedy.text()
    );

    let post = gateway.delete("/pages/hello").await;
    assert_eq!(post.status, 405);
}

#[actix_rt::test]
async fn nothing_outside_the_directory_is_ever_read() {
    let redis = TestRedis::start();
    let prefix = unique_prefix("render-escape");
    let dir = templates("render-escape");
    let (_app, base) = renderer(&redis, &prefix, &dir);
    for target in [
        "/pages/../../secret",
        "/pages/%2e%2e/%2e%2e/secret",
        "/pages/%2E%2E%2F%2E%2E%2Fsecret.html",
        "/pages//etc/passwd",
        "/pages/link-out",
        "/pages/..%5c..%5csecret",
    ] {
        let (status, body) = get_raw(&base, target);
        assert!(
            status.starts_with("HTTP/1.1 404"),
            "{target}: {status} {body}"
        );
        assert!(!body.contains("not for clients"), "{target}: {body}");
    }
    // A name a template includes goes through the same confinement.
    for part in [
        "../secret.html",
        "/etc/passwd",
        "pages/link-out.html",
        "pages/../../secret.html",
    ] {
        let target = format!("/pages/include-any?part={}", part.replace('/', "%2F"));
        let (status, body) = get_raw(&base, &target);
        assert!(
            status.starts_with("HTTP/1.1 500"),
            "{part}: {status} {body}"
        );
        assert!(body.contains("template not found"), "{part}: {body}");
        assert!(!body.contains("not for clients"), "{part}: {body}");
    }
}
