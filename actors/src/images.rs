//! `ImageQueue`: uploaded images in Redis, newest first; `/meow` takes the newest away.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, ResponseFuture};
use redis_async::resp::{FromResp, RespValue};
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::error::{ActorError, Cause};
use crate::redis::{Redis, COMMAND_TIMEOUT};

/// The image formats the queue accepts, told apart by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl ImageType {
    /// How many leading bytes [`ImageType::sniff`] needs to decide.
    pub const SNIFF_LEN: usize = 12;

    /// The format the bytes start with, if it is one of ours. Needs [`Self::SNIFF_LEN`] bytes
    /// unless the file is shorter.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match head {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }

    fn from_mime(mime: &[u8]) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Gif, Self::Webp]
            .into_iter()
            .find(|t| t.mime().as_bytes() == mime)
    }
}

/// An image and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub image_type: ImageType,
    pub bytes: Vec<u8>,
}

impl Image {
    /// An image whose format its bytes show; `None` when they show none of ours.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        let image_type = ImageType::sniff(&bytes)?;
        Some(Self { image_type, bytes })
    }

    /// As Redis keeps it: the bytes, then `\n` and the MIME type. A trailer rather than a header,
    /// so an upload of many megabytes is extended in place, never copied behind a header.
    fn into_stored(mut self) -> Vec<u8> {
        self.bytes.push(b'\n');
        self.bytes
            .extend_from_slice(self.image_type.mime().as_bytes());
        self.bytes
    }

    fn from_stored(mut stored: Vec<u8>) -> Option<Self> {
        let newline = stored.iter().rposition(|&b| b == b'\n')?;
        let image_type = ImageType::from_mime(&stored[newline + 1..])?;
        stored.truncate(newline);
        Some(Self {
            image_type,
            bytes: stored,
        })
    }
}

/// Put `image` on the queue; answers how many images the queue then holds. Refused with
/// [`ActorError::ImageQueueFull`] when the queue holds its most already.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, ActorError>")]
pub struct EnqueueImage {
    pub image: Image,
}

/// Take the most recent image off the queue; `None` when it is empty. Each image is taken
/// once, however many takers ask at the same moment.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Image>, ActorError>")]
pub struct PopImage {}

/// How many images move to or from Redis at once, per process. Each move of a large image
/// occupies the connection for a while; a few at a time keep every move well inside the Redis
/// command timeout and bound the copies the Redis client makes of them.
const TRANSFERS_AT_ONCE: usize = 2;

/// The permits for image transfers: one per process, shared by all its `ImageQueue`s.
#[derive(Clone)]
pub struct ImageTransfers(Arc<Semaphore>);

impl Default for ImageTransfers {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(TRANSFERS_AT_ONCE)))
    }
}

/// Pushes `ARGV[2]` unless the list holds `ARGV[1]` entries already (-1 then): one script, so
/// instances uploading at once never pass the cap together.
const PUSH_UNLESS_FULL: &str = "if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[1]) \
    then return -1 end return redis.call('LPUSH', KEYS[1], ARGV[2])";

/// Takes the newest image (a script, for its deadline).
const POP: &str = "return redis.call('LPOP', KEYS[1])";

/// A stack of images in one Redis list (LPUSH, LPOP), shared by every instance that uses the
/// same Redis and prefix.
///
/// Give it a `Redis` of its own (not the one the small commands share): a many-megabyte
/// image on the shared connection would hold every `/get` behind it.
pub struct ImageQueue {
    redis: Redis,
    transfers: ImageTransfers,
    /// The most images the queue holds (`IMAGE_QUEUE_MAX`).
    max_len: usize,
}

impl ImageQueue {
    pub fn new(redis: Redis, transfers: ImageTransfers, max_len: usize) -> Self {
        Self {
            redis,
            transfers,
            max_len,
        }
    }
}

/// Runs `script` once a transfer permit is free, all within the command timeout: with Redis
/// slow or frozen, a request fails in time rather than waiting for its turn behind others,
/// and the script does nothing if Redis gets to it after that.
async fn transfer<T: FromResp>(
    redis: Redis,
    transfers: ImageTransfers,
    script: &'static str,
    args: Vec<RespValue>,
    replicated: bool,
) -> Result<T, ActorError> {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let _permit = match timeout_at(deadline, transfers.0.acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            let cause = Cause::described("no image transfer slot in time");
            return Err(ActorError::RedisUnavailable(cause));
        }
    };
    let queue = [redis.keys().image_queue()];
    if replicated {
        redis
            .eval_by_replicated(deadline, script, &queue, args)
            .await
    } else {
        redis.eval_by(deadline, script, &queue, args).await
    }
}

impl Actor for ImageQueue {
    type Context = Context<Self>;
}

impl Handler<EnqueueImage> for ImageQueue {
    type Result = ResponseFuture<Result<usize, ActorError>>;

    fn handle(&mut self, msg: EnqueueImage, _: &mut Context<Self>) -> Self::Result {
        let args = vec![
            self.max_len.to_string().into(),
            RespValue::BulkString(msg.image.into_stored()),
        ];
        let redis = self.redis.clone();
        // Acknowledged with 201: on replicas first, where there are (docs/deploy.md).
        let transfers = self.transfers.clone();
        let pushed = transfer::<i64>(redis, transfers, PUSH_UNLESS_FULL, args, true);
        Box::pin(async move {
            match usize::try_from(pushed.await?) {
                Ok(queued) => Ok(queued),
                Err(_) => Err(ActorError::ImageQueueFull),
            }
        })
    }
}

impl Handler<PopImage> for ImageQueue {
    type Result = ResponseFuture<Result<Option<Image>, ActorError>>;

    fn handle(&mut self, _: PopImage, _: &mut Context<Self>) -> Self::Result {
        let redis = self.redis.clone();
        let transfers = self.transfers.clone();
        let popped = transfer::<Option<Vec<u8>>>(redis, transfers, POP, Vec::new(), false);
        Box::pin(async move {
            let Some(stored) = popped.await? else {
                return Ok(None);
            };
            Image::from_stored(stored).map(Some).ok_or_else(|| {
                ActorError::Redis(Cause::described("an image queue entry without its type"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_four_formats_by_their_first_bytes() {
        let webp = b"RIFF\x10\0\0\0WEBPVP8 ";
        assert_eq!(ImageType::sniff(b"\xFF\xD8\xFF\xE0"), Some(ImageType::Jpeg));
        assert_eq!(
            ImageType::sniff(b"\x89PNG\r\n\x1a\n\0"),
            Some(ImageType::Png)
        );
        assert_eq!(ImageType::sniff(b"GIF89a\x01\0"), Some(ImageType::Gif));
        assert_eq!(ImageType::sniff(webp), Some(ImageType::Webp));
        assert_eq!(ImageType::sniff(b"RIFF\x10\0\0\0WAVE"), None);
        assert_eq!(ImageType::sniff(b"<svg"), None);
        assert_eq!(ImageType::sniff(b""), None);
    }

    #[test]
    fn stored_form_round_trips_bytes_with_newlines() {
        let image = Image::from_bytes(b"GIF89a\n\nbody\n".to_vec()).unwrap();
        let back = Image::from_stored(image.clone().into_stored()).unwrap();
        assert_eq!(back, image);
        assert_eq!(Image::from_stored(b"no type".to_vec()), None);
    }

    #[actix::test]
    async fn with_redis_unreachable_both_messages_fail_within_the_command_timeout() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("redis://127.0.0.1:{port}");
        let redis = Redis::new(crate::redis::RedisConfig::from_url(&url, "p:").unwrap());
        let queue = ImageQueue::new(redis, ImageTransfers::default(), 100).start();
        let started = std::time::Instant::now();
        let image = Image::from_bytes(b"GIF89a body".to_vec()).unwrap();
        let pushed = queue.send(EnqueueImage { image }).await.unwrap();
        assert!(matches!(pushed, Err(ActorError::RedisUnavailable(_))));
        let popped = queue.send(PopImage {}).await.unwrap();
        assert!(matches!(popped, Err(ActorError::RedisUnavailable(_))));
        assert!(started.elapsed() < 2 * COMMAND_TIMEOUT);
    }
}
