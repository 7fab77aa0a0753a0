use super::*;
use crate::test_redis::{cmd, until, within, TestRedis};
use redis_async::resp_array;

fn start(server: &TestRedis, ms: u64, stop: oneshot::Sender<()>) -> Addr<ServiceRegistration> {
    let info = ServiceInfo {
        roles: "main".into(),
        host: "h".into(),
        pid: 7,
        version: "v1",
        lists: vec!["p:q".into()],
    };
    ServiceRegistration::new(server.redis(), info, Duration::from_millis(ms), stop).start()
}

#[actix::test]
async fn registers_on_start_lists_itself_and_deregisters() {
    let (server, (stop, _stopped)) = (TestRedis::start(), oneshot::channel());
    let (service, redis) = (start(&server, 1000, stop), server.redis());
    let id = until("an id", || async { service.send(OwnId).await.unwrap() }).await;
    let listed = service.send(ListServices).await.unwrap().unwrap();
    assert_eq!((listed.len(), listed[0].id, listed[0].pid), (1, id, 7));
    assert_eq!(listed[0].lists, ["p:q"]);
    let live = resp_array!["ZSCORE", redis.keys().services(), id.to_string()];
    assert!(cmd::<Option<String>>(&redis, live.clone()).await.is_some());
    service.send(DeregisterService).await.unwrap().unwrap();
    assert_eq!(cmd::<Option<String>>(&redis, live).await, None);
    let hash = resp_array!["EXISTS", redis.keys().service(id)];
    assert_eq!(cmd::<i64>(&redis, hash).await, 0);
}

#[actix::test]
async fn renewals_write_the_time_and_an_id_whose_key_exists_is_never_written_over() {
    let (server, (stop, _stopped)) = (TestRedis::start(), oneshot::channel());
    let redis = server.redis();
    // Someone else's hash at the id the counter gives next.
    let squatted = redis.keys().service(1);
    let squat = resp_array!["HSET", &squatted, "pid", "99"];
    cmd::<i64>(&redis, squat).await;
    let service = start(&server, 200, stop);
    let id = until("an id", || async { service.send(OwnId).await.unwrap() }).await;
    assert_eq!(id, 2);
    let theirs = resp_array!["HGETALL", &squatted];
    assert_eq!(cmd::<Vec<String>>(&redis, theirs).await, ["pid", "99"]);
    let renewed = resp_array!["HGET", redis.keys().service(id), "renewed"];
    let first: u64 = cmd::<String>(&redis, renewed.clone())
        .await
        .parse()
        .unwrap();
    let listed = service.send(ListServices).await.unwrap().unwrap();
    assert_eq!(listed[0].renewed, Some(first));
    let later = until("a later renewal", || async {
        let at: u64 = cmd::<String>(&redis, renewed.clone())
            .await
            .parse()
            .unwrap();
        (at > first).then_some(at)
    })
    .await;
    assert!(later > first);
}

#[actix::test]
async fn deleting_its_registration_fires_the_stop() {
    let (server, (stop, stopped)) = (TestRedis::start(), oneshot::channel());
    let (service, redis) = (start(&server, 200, stop), server.redis());
    let id = until("an id", || async { service.send(OwnId).await.unwrap() }).await;
    assert!(service.send(StopService { id }).await.unwrap().unwrap());
    within("the stop", stopped).await.unwrap();
    let live = resp_array!["ZCARD", redis.keys().services()];
    assert_eq!(cmd::<i64>(&redis, live).await, 0);
}
