//! The link between forwarders and the main (`/kvs-link`): driven by hand as a forwarder would,
//! fed what no forwarder sends, and used by real forwarders against a main that goes silent,
//! one that closes idle connections, and one from before the link.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, App, HttpResponse, HttpServer};
use awc::ws::{CloseCode, Frame, Message};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use switchyard_actors::kvs::forwarder::RELAYED_HEADER;
use switchyard_actors::kvs::keyvalue::{Key, Value};
use switchyard_actors::kvs::link_frame::{LinkAnswer, LinkRequest};
use switchyard_actors::kvs::messages::PutOutcome;

use crate::forwarding::assert_unavailable;
use crate::helpers::TestApp;

type Link = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

async fn open_link(main: &TestApp) -> Link {
    let url = format!("http://{}/kvs-link", main.host_port());
    let (response, link) = awc::Client::new()
        .ws(url)
        .set_header(RELAYED_HEADER, "1")
        .connect()
        .await
        .expect("the main takes the link");
    assert_eq!(response.status(), 101);
    link
}

fn key(raw: &str) -> Key {
    Key::parse(raw).unwrap()
}

fn frames(requests: &[(u32, LinkRequest)]) -> Bytes {
    let mut out = BytesMut::new();
    for (id, request) in requests {
        request.encode(*id, &mut out);
    }
    out.freeze()
}

/// Answers until `count` have come, in whatever messages the main sent them.
async fn answers(link: &mut Link, count: usize) -> Vec<(u32, LinkAnswer)> {
    let mut answers = Vec::new();
    while answers.len() < count {
        let frame = tokio::time::timeout(Duration::from_secs(5), link.next())
            .await
            .expect("answers within 5 s");
        match frame {
            Some(Ok(Frame::Binary(mut message))) => {
                while let Some(answer) = LinkAnswer::decode(&mut message).unwrap() {
                    answers.push(answer);
                }
            }
            other => panic!("expected answers, got {other:?}"),
        }
    }
    answers
}

/// The close frame the main ends the link with, skipping nothing else.
async fn close_code(link: &mut Link) -> Option<CloseCode> {
    let frame = tokio::time::timeout(Duration::from_secs(5), link.next())
        .await
        .expect("the main closes within 5 s");
    match frame {
        Some(Ok(Frame::Close(reason))) => reason.map(|reason| reason.code),
        other => panic!("expected the link closed, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_messages_requests_are_applied_in_order_and_answered_by_id() {
    let main = TestApp::builder().start();
    let mut link = open_link(&main).await;
    let value = Value::new("one").unwrap();
    let requests = [
        (40, LinkRequest::Put(key("k"), value.clone())),
        (41, LinkRequest::Get(key("k"))),
        (42, LinkRequest::Delete(key("k"))),
        (43, LinkRequest::Get(key("k"))),
        (44, LinkRequest::Put(key("k"), Value::new("two").unwrap())),
    ];
    link.send(Message::Binary(frames(&requests))).await.unwrap();
    let mut got = answers(&mut link, 5).await;
    got.sort_by_key(|(id, _)| *id);
    assert_eq!(
        got,
        vec![
            (40, LinkAnswer::Put(PutOutcome::Created)),
            (41, LinkAnswer::Found(value)),
            (42, LinkAnswer::Deleted),
            (43, LinkAnswer::NotFound),
            (44, LinkAnswer::Put(PutOutcome::Created)),
        ]
    );
    assert_eq!(main.stored("k").await.as_deref(), Some("two"));

    // A ping is answered, and the link goes on.
    link.send(Message::Ping(Bytes::from_static(b"hi")))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), link.next()).await;
    assert!(matches!(pong, Ok(Some(Ok(Frame::Pong(bytes)))) if bytes == "hi"));
    link.send(Message::Binary(frames(&[(45, LinkRequest::Get(key("k")))])))
        .await
        .unwrap();
    let found = answers(&mut link, 1).await;
    assert_eq!(
        found,
        vec![(45, LinkAnswer::Found(Value::new("two").unwrap()))]
    );
}

#[actix_rt::test]
async fn a_malformed_message_closes_the_link_and_changes_nothing() {
    let main = TestApp::builder().start();
    let put = (
        1,
        LinkRequest::Put(key("untouched"), Value::new("x").unwrap()),
    );
    let mut garbled = BytesMut::from(&frames(&[put])[..]);
    garbled.extend_from_slice(&[2, 0, 0, 0, 99]);
    let bad_key = Bytes::from_static(&[3, 0, 0, 0, 1, 3, b'a', b'/', b'b']);
    let messages = [
        Message::Binary(garbled.freeze()),
        Message::Binary(bad_key),
        Message::Text("GET untouched".into()),
    ];
    for message in messages {
        let mut link = open_link(&main).await;
        link.send(message).await.unwrap();
        assert_eq!(close_code(&mut link).await, Some(CloseCode::Policy));
    }
    // The well-formed PUT before the garbage was not applied either.
    assert_eq!(main.stored("untouched").await, None);
}

#[actix_rt::test]
async fn kvs_link_without_an_upgrade_is_refused_and_a_forwarder_has_none() {
    let main = TestApp::builder().start();
    let plain = main.get("/kvs-link").await;
    assert_eq!(plain.status, 400);
    assert_eq!(
        plain.json(),
        json!({"msg": "error", "error": "/kvs-link takes a WebSocket upgrade, as forwarding instances send"})
    );
    let posted = main
        .request(awc::http::Method::POST, "/kvs-link", Some("x=1"))
        .await;
    assert_eq!(posted.status, 405);

    let forwarder = TestApp::builder().forwarding_to(main.host_port()).start();
    let linked = forwarder.get("/kvs-link").await;
    assert_eq!(linked.status, 508);
    assert_eq!(
        linked.json(),
        json!({"msg": "error", "error": "this instance forwards too: MAINIP must name the main instance"})
    );
}

#[actix_rt::test]
async fn a_main_that_goes_silent_on_an_open_link_is_unavailable_in_time_and_the_link_recovers() {
    let mut main = TestApp::builder().start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    assert_eq!(forwarder.put_val("/kvs/foo", "before").await.status, 201);

    main.signal("STOP");
    assert_unavailable(&forwarder).await;
    main.signal("CONT");

    assert_eq!(forwarder.stored("foo").await.as_deref(), Some("before"));
    assert_eq!(forwarder.put_val("/kvs/foo", "after").await.status, 200);
    assert_eq!(main.stored("foo").await.as_deref(), Some("after"));
}

#[actix_rt::test]
async fn an_idle_link_outlasts_the_mains_client_timeout() {
    // The main closes a connection that sends nothing for its CLIENT_TIMEOUT_MS; the forwarder
    // pings an idle link twice as often.
    let main = TestApp::builder()
        .env("CLIENT_TIMEOUT_MS", "1000")
        .start_process();
    let forwarder = TestApp::builder()
        .envs(&[("MAINIP", main.host_port())])
        .start_process();
    assert_eq!(forwarder.put_val("/kvs/idle", "1").await.status, 201);
    actix_rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(forwarder.stored("idle").await.as_deref(), Some("1"));
    assert!(
        forwarder.logged("link to the main").is_empty(),
        "{:?}",
        forwarder.logged("link")
    );
}

/// A main from before the link: `/kvs` only, every other path 404. Records the paths asked.
fn main_without_the_link(seen: Arc<Mutex<Vec<String>>>) -> String {
    let server = HttpServer::new(move || {
        let seen = Arc::clone(&seen);
        App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("{} {}", req.method(), req.path()));
                match (req.method().as_str(), req.path()) {
                    ("GET", "/kvs/old") => {
                        HttpResponse::Ok().json(json!({"msg": "success", "value": "over http"}))
                    }
                    ("PUT", "/kvs/old") => {
                        HttpResponse::Created().json(json!({"replaced": 0, "msg": "success"}))
                    }
                    _ => HttpResponse::NotFound().json(json!({"msg": "error"})),
                }
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0].to_string();
    actix_rt::spawn(server.run());
    addr
}

#[actix_rt::test]
async fn a_forwarder_relays_over_plain_http_to_a_main_without_the_link() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let old_main = main_without_the_link(Arc::clone(&seen));
    let forwarder = TestApp::builder().forwarding_to(&old_main).start();

    let found = forwarder.get("/kvs/old").await;
    assert_eq!(
        found.json(),
        json!({"msg": "success", "value": "over http"})
    );
    let created = forwarder.put_val("/kvs/old", "v").await;
    assert_eq!(created.status, 201);
    assert_eq!(forwarder.get("/kvs/old").await.status, 200);

    // Each worker thread asks for the link once, then relays over HTTP without asking again.
    let seen = seen.lock().unwrap().clone();
    let asked = seen.iter().filter(|path| *path == "GET /kvs-link").count();
    assert!((1..=2).contains(&asked), "{seen:?}");
    let relayed: Vec<_> = seen
        .iter()
        .filter(|path| path.contains("/kvs/old"))
        .collect();
    assert_eq!(
        relayed,
        ["GET /kvs/old", "PUT /kvs/old", "GET /kvs/old"],
        "{seen:?}"
    );
}
