//! Writes confirmed by replicas (`WAIT`) before switchyard acknowledges them.

use std::time::Duration;

use redis_async::resp::{FromResp, RespValue};
use tokio::time::Instant;

use super::connection::Clock;
use super::slots::command_slot;
use super::{LateEval, Redis, COMMAND_TIMEOUT, REPLICA_WAIT};
use crate::error::{ActorError, Cause};

impl Redis {
    /// As [`Self::eval_by`], and then, when the configuration asks for replicas
    /// ([`RedisConfig::wait_replicas`]), `WAIT` on the same connection: answered only once that
    /// many replicas hold the script's writes, so a failover cannot lose what the caller then
    /// acknowledges. Fewer replicas in [`REPLICA_WAIT`] fail as unavailable, though the script
    /// ran: the caller must treat its work as perhaps done (documented per use).
    pub async fn eval_by_replicated<T: FromResp>(
        &self,
        deadline: Instant,
        script: &str,
        keys: &[String],
        args: Vec<RespValue>,
    ) -> Result<T, ActorError> {
        if self.shared.config.wait_replicas == 0 {
            return self.eval_by(deadline, script, keys, args).await;
        }
        let eval = LateEval::new(deadline, script);
        self.replicated(deadline, &|clock| eval.command(clock, keys, &args))
            .await
    }

    /// As [`Self::command`], then `WAIT` as [`Self::eval_by_replicated`] does: for a command
    /// that may run late or twice (vpush's marked delivery).
    pub async fn command_replicated<T: FromResp>(
        &self,
        command: RespValue,
    ) -> Result<T, ActorError> {
        if self.shared.config.wait_replicas == 0 {
            return self.command(command).await;
        }
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        self.replicated(deadline, &|_| command.clone()).await
    }

    async fn replicated<T: FromResp>(
        &self,
        deadline: Instant,
        build: &dyn Fn(Clock) -> RespValue,
    ) -> Result<T, ActorError> {
        let wanted = self.shared.config.wait_replicas;
        // The WAIT blocks the connection: never past what is left of the caller's time.
        let left = deadline.saturating_duration_since(Instant::now());
        let waited = REPLICA_WAIT
            .min(left.saturating_sub(WAIT_MARGIN))
            .max(WAIT_LEAST);
        let wait = RespValue::Array(vec![
            "WAIT".into(),
            wanted.to_string().into(),
            waited.as_millis().to_string().into(),
        ]);
        let replicated = async {
            // The WAIT on the connection the script went on: it counts that connection's writes.
            match &self.shared.cluster {
                Some(cluster) => {
                    let slot = command_slot(&build(Clock::default()));
                    let (answer, node) = self.routed(cluster, deadline, slot, build).await?;
                    let answer: T = self.classify(Ok(answer), || node.forget(cluster))?;
                    let confirmed = node.connection().send(wait).await;
                    Ok((answer, self.classify(confirmed, || node.forget(cluster))?))
                }
                None => {
                    let (connection, _) = self.connection().await?;
                    let answer: T = self.send(&connection, build(connection.clock())).await?;
                    Ok((answer, self.send::<u32>(&connection, wait).await?))
                }
            }
        };
        // Too few replicas is not an outage (Redis answered): it is not noted as one.
        let (answer, confirmed) = self.within(deadline, replicated).await?;
        if confirmed >= wanted {
            Ok(answer)
        } else {
            Err(ActorError::RedisUnavailable(Cause::described(
                format_args!(
                    "{confirmed} of {wanted} replicas confirmed the write within {waited:?}"
                ),
            )))
        }
    }
}

/// Left of the caller's time after a `WAIT`, for its answer to come back.
const WAIT_MARGIN: Duration = Duration::from_millis(50);

/// The shortest `WAIT`: replicas on a LAN confirm within a millisecond or two.
const WAIT_LEAST: Duration = Duration::from_millis(10);
