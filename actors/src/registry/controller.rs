//! [`ReplicaController`]: the notes' `rcontrol`. `<prefix>replicas` holds the declared number of
//! app servers; one instance at a time (a lease) spawns or destroys servers through its
//! registry until the live registrations match, every heartbeat. A server that stops renewing
//! lapses within three heartbeats and the count falls: the next step spawns its replacement.

use std::time::Duration;

use actix::prelude::*;
use redis_async::resp::RespValue;

use super::{DestroyServer, ListServers, ServerRegistry, SpawnServer};
use crate::error::{chain, ActorError};
use crate::redis::{hold_lease, Redis};

pub struct ReplicaController {
    redis: Redis,
    registry: Addr<ServerRegistry>,
    heartbeat: Duration,
    /// This instance, as the lease names it.
    id: String,
    stepping: bool,
    /// What was last logged, so a lasting state is logged once.
    last_report: Option<String>,
}

impl ReplicaController {
    pub fn new(redis: Redis, registry: Addr<ServerRegistry>, heartbeat: Duration) -> Self {
        Self {
            redis,
            registry,
            heartbeat,
            id: crate::random_id(),
            stepping: false,
            last_report: None,
        }
    }

    fn step(&mut self, ctx: &mut Context<Self>) {
        if self.stepping {
            return;
        }
        self.stepping = true;
        let (redis, registry, id) = (self.redis.clone(), self.registry.clone(), self.id.clone());
        let lifetime = self.heartbeat * 3;
        let work = async move { reconcile(&redis, &registry, &id, lifetime).await };
        ctx.spawn(fut::wrap_future(work).map(|report, act: &mut Self, _| {
            act.stepping = false;
            let report = match report {
                Ok(report) => report,
                Err(err) => Some(format!("replica control paused: {}", chain(&err))),
            };
            if report != act.last_report {
                if let Some(text) = &report {
                    log::info!("{text}");
                }
                act.last_report = report;
            }
        }));
    }
}

/// One step: when this instance holds the lease and `replicas` is set, spawns or destroys
/// servers until the live registrations match. Answers what is worth logging.
async fn reconcile(
    redis: &Redis,
    registry: &Addr<ServerRegistry>,
    id: &str,
    lifetime: Duration,
) -> Result<Option<String>, ActorError> {
    let keys = redis.keys();
    if !hold_lease(redis, &keys.replicas_lease(), id, lifetime).await? {
        return Ok(None);
    }
    let get = RespValue::Array(vec!["GET".into(), keys.replicas().into()]);
    let declared: Option<String> = redis.command(get).await?;
    let Some(declared) = declared else {
        return Ok(Some(format!(
            "{} is not set: nothing to control",
            keys.replicas()
        )));
    };
    let Ok(wanted) = declared.trim().parse::<usize>() else {
        return Ok(Some(format!(
            "{} holds {declared:?}, not a number",
            keys.replicas()
        )));
    };
    let live = registry.send(ListServers {}).await??.len();
    if live < wanted {
        for _ in live..wanted {
            if let Err(err) = registry.send(SpawnServer {}).await? {
                return Ok(Some(format!(
                    "{live} of {wanted} replicas: cannot spawn ({err})"
                )));
            }
        }
    } else {
        for _ in wanted..live {
            if let Err(err) = registry.send(DestroyServer {}).await? {
                return Ok(Some(format!(
                    "{live} replicas for {wanted}: cannot destroy ({err})"
                )));
            }
        }
    }
    Ok(Some(format!("{wanted} replicas declared, controlled here")))
}

impl Actor for ReplicaController {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.heartbeat, |act, ctx| act.step(ctx));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::future::{ready, Future};
    use std::net::TcpListener;
    use std::pin::Pin;
    use std::rc::Rc;

    use redis_async::resp_array;

    use super::*;
    use crate::registry::{AppServer, Launcher, RegistrySettings};
    use crate::test_redis::{cmd, free_ports, until, TestRedis};

    /// Binds the port it is asked for (a taken one is refused) and serves nothing; counts the
    /// servers it runs.
    struct Binder(Rc<Cell<usize>>);

    struct Bound {
        _listener: TcpListener,
        running: Rc<Cell<usize>>,
    }

    impl Launcher for Binder {
        fn launch(&self, port: u16) -> std::io::Result<Box<dyn AppServer>> {
            let listener = TcpListener::bind(("127.0.0.1", port))?;
            self.0.set(self.0.get() + 1);
            let running = Rc::clone(&self.0);
            Ok(Box::new(Bound {
                _listener: listener,
                running,
            }))
        }
    }

    impl AppServer for Bound {
        fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()>>> {
            self.running.set(self.running.get() - 1);
            Box::pin(ready(()))
        }
    }

    #[actix::test]
    async fn the_servers_follow_the_declared_number_of_replicas() {
        let server = TestRedis::start();
        let (redis, running) = (server.redis(), Rc::new(Cell::new(0)));
        let settings = RegistrySettings {
            ports: free_ports(4),
            max: 4,
            advertise_host: "127.0.0.1".into(),
            heartbeat: Duration::from_secs(1),
            own_url: None,
        };
        let launcher = Box::new(Binder(Rc::clone(&running)));
        let registry = ServerRegistry::new(server.redis(), launcher, settings).start();
        let heartbeat = Duration::from_millis(200);
        let _controller =
            ReplicaController::new(server.redis(), registry.clone(), heartbeat).start();
        for replicas in [3, 1] {
            let set = resp_array!["SET", redis.keys().replicas(), replicas.to_string()];
            let _: String = cmd(&redis, set).await;
            until(&format!("{replicas} servers"), || async {
                let listed = registry.send(ListServers {}).await.unwrap().unwrap();
                (listed.len() == replicas && running.get() == replicas).then_some(())
            })
            .await;
        }
        let lease = resp_array!["GET", redis.keys().replicas_lease()];
        assert!(cmd::<Option<String>>(&redis, lease).await.is_some());
    }
}
