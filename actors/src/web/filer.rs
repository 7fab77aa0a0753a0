//! [`FilerJob`]: the notes' `hfiler`, a gateway worker's job serving the file at the request's
//! path under a root, kept in Redis for as long as its [`Expiry`] rule says, gzip-compressed
//! unless told not to (docs/web-server.md).
//!
//! Nothing outside the root is ever read: the path is percent-decoded once, any `..`, `.` or
//! empty component is refused, and the file's canonical path (symbolic links resolved) must
//! still be under the canonical root ([`crate::web::confine`]).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use redis_async::resp::{FromResp, RespValue};

use crate::gateway::job::{Job, Outcome};
use crate::gateway::message::{GatewayRequest, GatewayResponse};
use crate::redis::Redis;
use crate::web::confine::{content_type, file_under, request_path};
use crate::web::expiry::Expiry;
use crate::web::{error_response, header};

/// The largest file served (and kept in Redis).
pub const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Compressible files larger than this are kept gzip-compressed.
const GZIP_FROM: usize = 1024;

/// KEYS[1] the file's hash; ARGV: body, etag, content type, gzip (1 or 0), lifetime in seconds.
const KEEP: &str =
    "redis.call('HSET', KEYS[1], 'body', ARGV[1], 'etag', ARGV[2], 'type', ARGV[3], \
      'gzip', ARGV[4]) \
    redis.call('EXPIRE', KEYS[1], ARGV[5]) return 1";

/// How hfiler keeps and sends files: `FILER_EXPIRY` (with `FILER_TTL_SECS`) and `FILER_GZIP`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilerSettings {
    /// How long a file is kept in Redis, and its `Cache-Control: max-age`, by its path.
    pub expiry: Expiry,
    /// Whether compressible files are kept and sent gzip-compressed; without it every file is
    /// sent as it is, even one another filer kept compressed.
    pub gzip: bool,
}

pub struct FilerJob(Rc<Filer>);

/// What every request's future shares.
struct Filer {
    /// Canonical.
    root: PathBuf,
    redis: Redis,
    settings: FilerSettings,
}

impl FilerJob {
    /// `root` must exist; it is made canonical here.
    pub fn new(root: &Path, redis: Redis, settings: FilerSettings) -> std::io::Result<Self> {
        Ok(Self(Rc::new(Filer {
            root: root.canonicalize()?,
            redis,
            settings,
        })))
    }
}

/// A file as kept: its bytes (gzip-compressed when `gzipped`), its tag, its type.
struct Served {
    body: Vec<u8>,
    etag: String,
    content_type: String,
    gzipped: bool,
}

impl Job for FilerJob {
    fn handle(&self, _raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let filer = Rc::clone(&self.0);
        Box::pin(async move {
            let response = answer(&filer, &request).await;
            Outcome::answer(&request.reply_to, &response)
        })
    }
}

async fn answer(filer: &Filer, request: &GatewayRequest) -> GatewayResponse {
    let (redis, gzip) = (&filer.redis, filer.settings.gzip);
    let respond = |status: u16, headers: Vec<(String, String)>, body: Vec<u8>| GatewayResponse {
        id: request.id.clone(),
        status,
        headers,
        body,
    };
    let error = |status: u16, text: &str| error_response(request, status, text, Default::default());
    if request.method != "GET" && request.method != "HEAD" {
        return error(405, "method not allowed");
    }
    let Some(relative) = request_path(&request.path) else {
        return error(404, "no such file");
    };
    let name = relative.to_string_lossy();
    let ttl = filer.settings.expiry.lifetime(&format!("/{name}"));
    // A lifetime of 0: read from the disk every time, never kept in Redis nor read from there.
    let cached = if ttl.is_zero() {
        None
    } else {
        cached(redis, &name).await
    };
    let served = match cached {
        Some(served) => served,
        None => match read(&filer.root, &relative, gzip) {
            Some(served) if ttl.is_zero() => served,
            Some(served) => {
                keep(redis, &name, &served, ttl).await;
                served
            }
            None => return error(404, "no such file"),
        },
    };
    let header = |name: &str| header(request, name);
    // The compressed and the plain bytes are two representations, each with its own tag.
    let offer_gzip = gzip && served.gzipped;
    let send_gzip = offer_gzip && header("accept-encoding").is_some_and(accepts_gzip);
    let tag = served.etag.trim_matches('"');
    let etag = if send_gzip {
        format!("\"{tag}-gzip\"")
    } else {
        format!("\"{tag}\"")
    };
    let mut headers = vec![
        ("content-type".to_owned(), served.content_type.clone()),
        ("etag".to_owned(), etag.clone()),
        (
            "cache-control".to_owned(),
            format!("max-age={}", ttl.as_secs()),
        ),
    ];
    if offer_gzip {
        headers.push(("vary".to_owned(), "accept-encoding".to_owned()));
    }
    if send_gzip {
        headers.push(("content-encoding".to_owned(), "gzip".to_owned()));
    }
    if header("if-none-match").is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag)) {
        return respond(304, headers, Vec::new());
    }
    let body = match (request.method == "HEAD", served.gzipped && !send_gzip) {
        (true, _) => Vec::new(),
        (false, true) => match gunzip(&served.body) {
            Some(body) => body,
            None => return error(500, "a kept file could not be decompressed"),
        },
        (false, false) => served.body,
    };
    respond(200, headers, body)
}

/// The file at `relative` under `root`, unless it is not a file, too large, or (symbolic links
/// resolved) outside the root; compressed when `gzip_allowed` and it pays.
fn read(root: &Path, relative: &Path, gzip_allowed: bool) -> Option<Served> {
    let path = file_under(root, relative)?;
    if std::fs::metadata(&path).ok()?.len() > MAX_FILE {
        return None;
    }
    let body = std::fs::read(&path).ok()?;
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    let content_type = content_type(&path);
    let compressed = (gzip_allowed && compressible(content_type) && body.len() > GZIP_FROM)
        .then(|| gzip(&body))
        .flatten()
        .filter(|compressed| compressed.len() < body.len());
    Some(Served {
        etag: format!("\"{:016x}\"", hasher.finish()),
        content_type: content_type.to_owned(),
        gzipped: compressed.is_some(),
        body: compressed.unwrap_or(body),
    })
}

/// `name` as `static/app.css`.
async fn cached(redis: &Redis, name: &str) -> Option<Served> {
    let key = redis.keys().filer(name);
    let command = RespValue::Array(vec!["HGETALL".into(), key.into()]);
    let flat: Vec<Vec<u8>> = redis.command(command).await.ok()?;
    let mut fields = std::collections::HashMap::new();
    let mut pairs = flat.into_iter();
    while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
        fields.insert(name, value);
    }
    let text = |name: &[u8], fields: &mut std::collections::HashMap<Vec<u8>, Vec<u8>>| {
        String::from_utf8(fields.remove(name)?).ok()
    };
    Some(Served {
        etag: text(b"etag", &mut fields)?,
        content_type: text(b"type", &mut fields)?,
        gzipped: text(b"gzip", &mut fields)? == "1",
        body: fields.remove(b"body".as_slice())?,
    })
}

/// Kept in Redis for `ttl`; a failure only costs the next request a read from disk.
async fn keep(redis: &Redis, name: &str, served: &Served, ttl: Duration) {
    let key = redis.keys().filer(name);
    let command = RespValue::Array(vec![
        "EVAL".into(),
        KEEP.into(),
        "1".into(),
        key.into(),
        RespValue::BulkString(served.body.clone()),
        served.etag.as_str().into(),
        served.content_type.as_str().into(),
        if served.gzipped { "1" } else { "0" }.into(),
        ttl.as_secs().max(1).to_string().into(),
    ]);
    if let Err(err) = redis.command::<RespValue>(command).await.and_then(|a| {
        i64::from_resp(a).map_err(|e| crate::ActorError::Redis(crate::error::Cause::new(e)))
    }) {
        log::debug!("file not kept in Redis: {err}");
    }
}

/// Whether an `Accept-Encoding` value takes gzip (and does not refuse it with `q=0`).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// Text, scripts, JSON, SVG and WebAssembly compress; images and fonts already are.
fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || ["application/json", "image/svg+xml", "application/wasm"]
            .iter()
            .any(|t| content_type.starts_with(t))
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut plain)
        .ok()?;
    Some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("deflate, br"));
        let text = "switchyard ".repeat(200).into_bytes();
        assert_eq!(gunzip(&gzip(&text).unwrap()).unwrap(), text);
    }
}
