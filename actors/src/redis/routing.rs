//! Commands on a Redis Cluster: each sent to the master serving its keys' slot, redirections
//! followed, within the command's deadline.

use std::time::Duration;

use redis_async::error::Error as RedisError;
use redis_async::resp::RespValue;
use redis_async::resp_array;
use tokio::time::{timeout_at, Instant};

use super::cluster::Cluster;
use super::connection::{Clock, Connection};
use super::outages::note_outage;
use super::slots::Redirect;
use super::url_parts::Address;
use super::Redis;
use crate::error::{ActorError, Cause};

/// The most redirections one command follows: a slot moves once, the map may be stale once.
const REDIRECTS: usize = 5;

/// How long to wait before sending again a command a node answered `TRYAGAIN`.
const TRY_AGAIN_PAUSE: Duration = Duration::from_millis(20);

/// The node a command was answered by, to forget when the answer says it cannot serve.
pub struct NodeRef {
    address: Address,
    connection: Connection,
    /// A connection of its own (after `ASK`): closed when done with.
    own: bool,
}

impl Drop for NodeRef {
    fn drop(&mut self) {
        if self.own {
            self.connection.close();
        }
    }
}

impl NodeRef {
    pub fn forget(&self, cluster: &Cluster) {
        cluster.forget(&self.address, &self.connection);
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl Redis {
    /// Sends the command `build` makes to the master serving `slot` (any, for none) and answers what it
    /// said (an error answer included), following `MOVED` (the map read again) and `ASK`
    /// (on a connection of its own, after `ASKING`). A connection that breaks or does not
    /// answer by `deadline` is closed: the commands queued behind it on that node fail at
    /// once, those for other nodes go on.
    pub(super) async fn routed(
        &self,
        cluster: &Cluster,
        deadline: Instant,
        slot: Option<u16>,
        build: &dyn Fn(Clock) -> RespValue,
    ) -> Result<(RespValue, NodeRef), ActorError> {
        let mut last = None;
        let result = self.route(cluster, deadline, slot, build, &mut last).await;
        // Each node's outage is logged when it starts and ends; the map's under the seeds.
        let place = |node: Option<&Address>| match node {
            Some(node) => format!("{} node {node}", self.shared.config.describe()),
            None => self.shared.config.describe(),
        };
        match (&result, &last) {
            (Ok((_, node)), _) => {
                if cluster.mark(&node.address, true) {
                    note_outage(place(Some(&node.address)), None);
                }
                if cluster.map_read_again() {
                    note_outage(place(None), None);
                }
            }
            (Err(err), Some(node)) => {
                if cluster.mark(node, false) {
                    note_outage(place(Some(node)), Some(err));
                }
            }
            (Err(err), None) => {
                if cluster.map_unreadable() {
                    note_outage(place(None), Some(err));
                }
            }
        }
        result
    }

    async fn route(
        &self,
        cluster: &Cluster,
        deadline: Instant,
        slot: Option<u16>,
        build: &dyn Fn(Clock) -> RespValue,
        last: &mut Option<Address>,
    ) -> Result<(RespValue, NodeRef), ActorError> {
        let config = &self.shared.config;
        let mut target = cluster.owner(config, slot).await.map_err(unavailable)?;
        let mut retried = false;
        for _ in 0..=REDIRECTS {
            *last = Some(target.clone());
            let opened = timeout_at(deadline, cluster.node(config, &target)).await;
            let (connection, reused) = match opened {
                Ok(Ok(found)) => found,
                Err(_) => {
                    // A node that accepts and never answers: frozen, or cut off. The map,
                    // read meanwhile, says whether its replica took over.
                    self.read_map_soon();
                    let cause = Cause::described(format_args!("{target}: no connection in time"));
                    return Err(ActorError::RedisUnavailable(cause));
                }
                Ok(Err(err)) => {
                    // The node is gone: once its replica is promoted, the map names it.
                    let _ = cluster.refresh(config).await;
                    match cluster.owner(config, slot).await {
                        Ok(now) if now != target && !retried => {
                            retried = true;
                            target = now;
                            continue;
                        }
                        _ => {
                            let cause = Cause::new(err).context(&target);
                            return Err(ActorError::RedisUnavailable(cause));
                        }
                    }
                }
            };
            let node = NodeRef {
                address: target.clone(),
                connection: connection.clone(),
                own: false,
            };
            let sent = timeout_at(deadline, connection.send(build(connection.clock()))).await;
            let answer = match sent {
                Ok(Ok(answer)) => answer,
                Err(_) => {
                    node.forget(cluster);
                    // A silent node may have been failed over: the map, read meanwhile, says.
                    self.read_map_soon();
                    let cause = Cause::described(format_args!(
                        "{target}: no answer in time; connection closed"
                    ));
                    return Err(ActorError::RedisUnavailable(cause));
                }
                Ok(Err(err)) => {
                    node.forget(cluster);
                    // A connection kept from earlier may have died with its node: once more,
                    // where the map says the slot is now (a replica promoted, once it is), if
                    // the command was never written (it cannot have run).
                    if reused && !retried && matches!(err, RedisError::Connection(_)) {
                        retried = true;
                        let _ = cluster.refresh(config).await;
                        target = cluster.owner(config, slot).await.map_err(unavailable)?;
                        continue;
                    }
                    let cause = Cause::new(err).context(&target);
                    return Err(ActorError::RedisUnavailable(cause));
                }
            };
            let redirect = match &answer {
                // An empty host (`unknown-endpoint`) is the host this node was reached at.
                RespValue::Error(reason) => Redirect::of(reason).map(|r| r.at_host_of(&target)),
                _ => None,
            };
            match redirect {
                None => return Ok((answer, node)),
                Some(Redirect::Moved(to)) => {
                    // The map is stale: go where told now, and read it again meanwhile.
                    self.read_map_soon();
                    target = to;
                }
                Some(Redirect::Ask(to)) => {
                    return self.asking(deadline, &to, build).await;
                }
                Some(Redirect::TryAgain) => tokio::time::sleep(TRY_AGAIN_PAUSE).await,
            }
        }
        Err(ActorError::RedisUnavailable(Cause::described(
            format_args!("more than {REDIRECTS} redirections; the cluster is being changed"),
        )))
    }

    /// Reads the cluster's map again in a task of its own (at most every 100 ms): for a
    /// caller whose time is up, or who knows where to go already.
    fn read_map_soon(&self) {
        let redis = self.clone();
        actix_rt::spawn(async move {
            if let Some(cluster) = &redis.shared.cluster {
                let _ = cluster.refresh(&redis.shared.config).await;
            }
        });
    }

    /// `ASKING` then the command, on a connection of its own to `target` (so no other
    /// command comes between them), closed after.
    async fn asking(
        &self,
        deadline: Instant,
        target: &Address,
        build: &dyn Fn(Clock) -> RespValue,
    ) -> Result<(RespValue, NodeRef), ActorError> {
        let config = &self.shared.config;
        let asked = async {
            let connection = Connection::open_at(config, target).await?;
            let asking = connection.send(resp_array!["ASKING"]).await;
            let answer = connection.send(build(connection.clock())).await;
            asking?;
            Ok::<_, redis_async::error::Error>((answer?, connection))
        };
        match timeout_at(deadline, asked).await {
            // Not kept: the node serves the slot only for commands that were asked.
            Ok(Ok((answer, connection))) => Ok((
                answer,
                NodeRef {
                    address: target.clone(),
                    connection,
                    own: true,
                },
            )),
            Ok(Err(err)) => Err(unavailable(err)),
            Err(_) => Err(ActorError::RedisUnavailable(Cause::described(
                format_args!("{target}: no answer in time"),
            ))),
        }
    }
}

fn unavailable(err: redis_async::error::Error) -> ActorError {
    ActorError::RedisUnavailable(Cause::new(err))
}
