//! One holder at a time among replicas: a lease in Redis, taken or renewed.

use std::time::Duration;

use super::{eval, Redis};
use crate::error::ActorError;

/// KEYS[1] the lease; ARGV[1] the holder, ARGV[2] the lease's lifetime in ms. Takes the lease
/// when nobody holds it, renews it when this holder does; answers 1 when it holds it.
const HOLD_LEASE: &str = "local holder = redis.call('GET', KEYS[1]) \
    if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
    if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end \
    return 0";

/// Takes or renews the lease at `key` (a full key) for `holder`, for `lifetime`: whether
/// `holder` holds it now. One holder at a time among replicas: vpush, the replica controller.
pub async fn hold_lease(
    redis: &Redis,
    key: &str,
    holder: &str,
    lifetime: Duration,
) -> Result<bool, ActorError> {
    let args = [holder.to_owned(), lifetime.as_millis().to_string()];
    let held: i64 = redis
        .command(eval(HOLD_LEASE, &[key.to_owned()], &args))
        .await?;
    Ok(held == 1)
}
