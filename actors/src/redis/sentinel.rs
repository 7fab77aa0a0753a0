//! Finding the master a set of sentinels names, and checking that it is one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;

use super::dial::{ask, dial, Credentials, Socket};
use super::tls::TlsRoots;
use super::url_parts::Address;

/// The longest one sentinel may take to answer: a frozen one leaves time to ask the next.
const SENTINEL_WAIT: Duration = Duration::from_millis(250);

/// Asks the sentinels in turn, starting with the one that answered last (`turn`), for the
/// address of `master`.
pub async fn locate_master(
    sentinels: &[Address],
    master: &str,
    tls: Option<&TlsRoots>,
    turn: &AtomicUsize,
) -> Result<Address, RedisError> {
    let first = turn.load(Ordering::Relaxed);
    let mut failures = Vec::with_capacity(sentinels.len());
    for step in 0..sentinels.len() {
        let index = (first + step) % sentinels.len();
        let sentinel = &sentinels[index];
        match tokio::time::timeout(SENTINEL_WAIT, ask_sentinel(sentinel, master, tls)).await {
            Ok(Ok(address)) => {
                turn.store(index, Ordering::Relaxed);
                return Ok(address);
            }
            Ok(Err(err)) => failures.push(format!("{sentinel}: {err}")),
            Err(_) => failures.push(format!("{sentinel}: no answer in {SENTINEL_WAIT:?}")),
        }
    }
    Err(RedisError::Internal(format!(
        "no sentinel named the master {master:?} ({})",
        failures.join("; ")
    )))
}

async fn ask_sentinel(
    sentinel: &Address,
    master: &str,
    tls: Option<&TlsRoots>,
) -> Result<Address, RedisError> {
    let mut socket = dial(sentinel, tls, Credentials::NONE).await?;
    let command = resp_array!["SENTINEL", "get-master-addr-by-name", master];
    match ask(&mut socket, command).await? {
        RespValue::Nil => Err(RedisError::Internal(format!(
            "does not know a master named {master:?}"
        ))),
        answer => match Vec::<String>::from_resp(answer)?.as_slice() {
            [host, port] => Ok(Address {
                host: host.clone(),
                port: port
                    .parse()
                    .map_err(|_| RedisError::Unexpected(format!("a port {port:?}")))?,
            }),
            other => Err(RedisError::Unexpected(format!("an address {other:?}"))),
        },
    }
}

/// Fails unless the server on `socket` says it is a master (not a replica the sentinels have
/// not yet caught up with, nor an old master back as a replica).
pub async fn check_master(socket: &mut Socket, address: &Address) -> Result<(), RedisError> {
    let role = match ask(socket, resp_array!["ROLE"]).await? {
        RespValue::Array(mut parts) if !parts.is_empty() => {
            String::from_resp(parts.swap_remove(0))?
        }
        other => return Err(RedisError::Unexpected(format!("ROLE answered {other:?}"))),
    };
    if role == "master" {
        Ok(())
    } else {
        Err(RedisError::Internal(format!(
            "{address} is a {role}, not the master (a failover is under way)"
        )))
    }
}
