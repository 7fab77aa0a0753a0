//! [`Subscription`]: the messages published on one channel, on a connection of their own (a
//! subscribed connection can run no other command), opened as any other (TLS, the sentinels).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespValue};
use redis_async::resp_array;

use super::connection::open_socket;
use super::dial::{ask, Socket};
use super::{Redis, COMMAND_TIMEOUT};
use crate::error::{ActorError, Cause};

/// Each message's payload, in order; the stream ends when the connection breaks (subscribe
/// again then).
pub struct Subscription {
    socket: Socket,
}

impl Redis {
    /// A subscription to `channel` (a full key), connecting within [`COMMAND_TIMEOUT`].
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, ActorError> {
        let shared = &self.shared;
        let subscribe = async {
            let mut socket = open_socket(&shared.config, &shared.sentinel_turn).await?;
            // The confirmation: ["subscribe", channel, 1].
            Vec::<RespValue>::from_resp(
                ask(&mut socket, resp_array!["SUBSCRIBE", channel]).await?,
            )?;
            Ok::<_, RedisError>(Subscription { socket })
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, subscribe).await {
            Ok(Ok(subscription)) => Ok(subscription),
            Ok(Err(err)) => Err(ActorError::RedisUnavailable(Cause::new(err))),
            Err(_) => Err(ActorError::RedisUnavailable(Cause::described(
                format_args!("no subscription within {COMMAND_TIMEOUT:?}"),
            ))),
        }
    }
}

impl Stream for Subscription {
    type Item = Result<RespValue, RedisError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match self.socket.poll_next_unpin(cx) {
                // ["message", channel, payload]; anything else (a PONG) is not a message.
                Poll::Ready(Some(Ok(RespValue::Array(mut parts)))) if parts.len() == 3 => {
                    Poll::Ready(Some(Ok(parts.swap_remove(2))))
                }
                Poll::Ready(Some(Ok(_))) => continue,
                other => other,
            };
        }
    }
}
