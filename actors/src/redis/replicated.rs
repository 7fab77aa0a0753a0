//! Writes confirmed by replicas (`WAIT`) before switchyard acknowledges them.

use redis_async::resp::{FromResp, RespValue};
use tokio::time::Instant;

use super::{LateEval, Redis, REPLICA_WAIT};
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
        let wanted = self.shared.config.wait_replicas;
        if wanted == 0 {
            return self.eval_by(deadline, script, keys, args).await;
        }
        let eval = LateEval::new(deadline, script);
        let replicated = async {
            let (connection, _) = self.connection().await?;
            let command = eval.command(&connection, keys, &args);
            let answer: T = self.send(&connection, command).await?;
            let wait = RespValue::Array(vec![
                "WAIT".into(),
                wanted.to_string().into(),
                REPLICA_WAIT.as_millis().to_string().into(),
            ]);
            let confirmed: u32 = self.send(&connection, wait).await?;
            if confirmed >= wanted {
                Ok(answer)
            } else {
                Err(ActorError::RedisUnavailable(Cause::described(
                    format_args!(
                    "{confirmed} of {wanted} replicas confirmed the write within {REPLICA_WAIT:?}"
                ),
                )))
            }
        };
        self.within(deadline, replicated).await
    }
}
