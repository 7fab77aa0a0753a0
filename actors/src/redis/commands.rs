//! The commands several concerns send, as methods of [`Redis`]: a hash read whole, list lengths,
//! a key's type.

use std::collections::HashMap;

use redis_async::resp::RespValue;

use super::Redis;
use crate::error::ActorError;

impl Redis {
    /// Every field of the hash at `key` (a full key) and its value; none when it does not exist.
    pub async fn hash(&self, key: &str) -> Result<HashMap<String, String>, ActorError> {
        let flat: Vec<String> = self
            .command(RespValue::Array(vec!["HGETALL".into(), key.into()]))
            .await?;
        let mut fields = HashMap::with_capacity(flat.len() / 2);
        let mut pairs = flat.into_iter();
        while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
            fields.insert(name, value);
        }
        Ok(fields)
    }

    /// The length of each list in `lists` (full keys), asked at once (pipelined); a list Redis
    /// did not answer for is left out.
    pub async fn lengths(&self, lists: Vec<String>) -> Vec<(String, i64)> {
        let length = |list: String| async move {
            let command = RespValue::Array(vec!["LLEN".into(), list.as_str().into()]);
            self.command::<i64>(command).await.ok().map(|n| (list, n))
        };
        futures_util::future::join_all(lists.into_iter().map(length))
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The type of the value at `key` (a full key): `none` when there is none.
    pub async fn key_type(&self, key: &str) -> Result<String, ActorError> {
        self.command(RespValue::Array(vec!["TYPE".into(), key.into()]))
            .await
    }
}
