//! [`RenderJob`]: the notes' `hrender`, a gateway worker's job rendering the Jinja template at
//! the request's path under a directory (docs/web-server.md), with `minijinja`.
//!
//! Templates are read from disk at each render through a loader that keeps every name, those
//! of `include` and `extends` too, under the directory ([`crate::web::confine`]): a deploy is
//! seen at once and nothing outside is ever read. A render runs on a blocking thread, its Redis
//! reads answered by the worker's thread ([`lookups`]); its work is bounded by minijinja's fuel.

pub mod lookups;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use minijinja::{context, Environment, Error, ErrorKind, Value};

use crate::gateway::job::{Job, Outcome};
use crate::gateway::message::{GatewayRequest, GatewayResponse};
use crate::redis::{PublicKeys, Redis};
use crate::web::confine::{content_type, file_under, relative, request_path};
use crate::web::error_response;
use lookups::{Lookup, Lookups, PublicData};

/// The largest template read.
pub const MAX_TEMPLATE: u64 = 1024 * 1024;

/// How much one render may compute (minijinja's instructions): a page looping over a
/// thousand items uses a few tens of thousands.
pub const FUEL: u64 = 2_000_000;

pub struct RenderJob {
    /// Canonical.
    root: PathBuf,
    data: PublicData,
}

impl RenderJob {
    /// `root` must exist; it is made canonical here.
    /// Templates read keys of `public` only.
    pub fn new(root: &Path, redis: Redis, public: PublicKeys) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            data: PublicData::new(redis, public),
        })
    }
}

impl Job for RenderJob {
    fn handle(&self, _raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let root = self.root.clone();
        let data = self.data.clone();
        Box::pin(async move {
            let response = answer(root, &data, &request).await;
            Outcome::answer(&request.reply_to, &response)
        })
    }
}

/// Why a render failed: the error's words, and where (the innermost template that failed).
struct Failure {
    text: String,
    template: Option<String>,
    line: Option<usize>,
}

async fn answer(root: PathBuf, data: &PublicData, request: &GatewayRequest) -> GatewayResponse {
    let none = serde_json::Map::new();
    if request.method != "GET" && request.method != "HEAD" {
        return error_response(request, 405, "method not allowed", none);
    }
    let Some(name) = template_name(&request.path) else {
        return error_response(request, 404, "no such template", none);
    };
    let context = context! {
        path => request.path.clone(),
        method => request.method.clone(),
        query => query_parameters(&request.query),
    };
    match render(root, name.clone(), context, data).await {
        Ok(None) => error_response(request, 404, "no such template", none),
        Ok(Some(page)) => GatewayResponse {
            id: request.id.clone(),
            status: 200,
            headers: vec![
                ("content-type".into(), content_type(Path::new(&name)).into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: if request.method == "HEAD" {
                Vec::new()
            } else {
                page.into_bytes()
            },
        },
        Err(failure) => {
            log::warn!("rendering {name} failed: {}", failure.text);
            let mut more = serde_json::Map::new();
            more.insert("template".into(), failure.template.unwrap_or(name).into());
            more.insert("line".into(), failure.line.into());
            error_response(request, 500, &failure.text, more)
        }
    }
}

/// Renders `name` on a blocking thread, answering the Redis reads it asks for meanwhile; `None`
/// when there is no such template (the loader's confinement decides, as for includes).
async fn render(
    root: PathBuf,
    name: String,
    context: Value,
    data: &PublicData,
) -> Result<Option<String>, Failure> {
    let (ask, mut asked) = tokio::sync::mpsc::unbounded_channel();
    let lookups = Arc::new(Lookups::new(ask));
    let rendering = tokio::task::spawn_blocking(move || {
        let environment = environment(root, lookups);
        let template = match environment.get_template(&name) {
            Err(err) if err.kind() == ErrorKind::TemplateNotFound => return Ok(None),
            found => found?,
        };
        template.render(context).map(Some)
    });
    tokio::pin!(rendering);
    let rendered = loop {
        tokio::select! {
            rendered = &mut rendering => break rendered,
            // Ends (and is no longer polled) once the render dropped its side.
            Some(lookup) = asked.recv() => data.answer(lookup).await,
        }
    };
    match rendered {
        Ok(Ok(page)) => Ok(page),
        Ok(Err(err)) => Err(failure(&err)),
        Err(_) => Err(Failure {
            text: "the render stopped unexpectedly".into(),
            template: None,
            line: None,
        }),
    }
}

/// An environment reading templates under `root`, with the functions reading Redis.
fn environment(root: PathBuf, lookups: Arc<Lookups>) -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_fuel(Some(FUEL));
    environment.set_loader(move |name| load(&root, name));
    let by_get = Arc::clone(&lookups);
    environment.add_function("get", move |key: String| by_get.fetch(Lookup::Get(key)));
    let by_hash = Arc::clone(&lookups);
    environment.add_function("hash", move |key: String| by_hash.fetch(Lookup::Hash(key)));
    environment.add_function(
        "list",
        move |key: String, start: Option<i64>, stop: Option<i64>| {
            lookups.fetch(Lookup::List {
                key,
                start: start.unwrap_or(0),
                stop: stop.unwrap_or(-1),
            })
        },
    );
    environment
}

/// The loader: a name that could leave the root, or is not a file there, is not found.
fn load(root: &Path, name: &str) -> Result<Option<String>, Error> {
    let Some(path) = relative(name).and_then(|r| file_under(root, &r)) else {
        return Ok(None);
    };
    let refused = |detail: String| Error::new(ErrorKind::InvalidOperation, detail);
    let size = std::fs::metadata(&path)
        .map_err(|err| refused(format!("{name}: {err}")))?
        .len();
    if size > MAX_TEMPLATE {
        return Err(refused(format!(
            "{name} is larger than {MAX_TEMPLATE} bytes"
        )));
    }
    let bytes = std::fs::read(&path).map_err(|err| refused(format!("{name}: {err}")))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| refused(format!("{name} is not UTF-8")))
}

/// The template a request path names: `/pages/hello` → `pages/hello.html`, `/pages/` →
/// `pages/index.html`, a last segment with an extension as it is; `None` when it could leave
/// the directory.
fn template_name(path: &str) -> Option<String> {
    let indexed;
    let path = if path.ends_with('/') {
        indexed = format!("{path}index");
        &indexed
    } else {
        path
    };
    let mut relative = request_path(path)?;
    if relative.extension().is_none() {
        relative.set_extension("html");
    }
    let parts: Vec<&str> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    Some(parts.join("/"))
}

/// The query's parameters, each name's first value (form-decoded).
fn query_parameters(query: &str) -> BTreeMap<String, String> {
    let mut parameters = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        parameters
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    parameters
}

/// The innermost template error (an error in an included template is wrapped by the include).
fn failure(err: &Error) -> Failure {
    let mut innermost = err;
    let mut current: &dyn std::error::Error = err;
    while let Some(source) = current.source() {
        if let Some(inner) = source.downcast_ref::<Error>() {
            innermost = inner;
        }
        current = source;
    }
    Failure {
        text: innermost.to_string(),
        template: innermost.name().map(str::to_owned),
        line: innermost.line(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_templates_under_the_directory() {
        assert_eq!(
            template_name("/pages/hello").as_deref(),
            Some("pages/hello.html")
        );
        assert_eq!(
            template_name("/pages/").as_deref(),
            Some("pages/index.html")
        );
        assert_eq!(template_name("/").as_deref(), Some("index.html"));
        assert_eq!(template_name("/feed.xml").as_deref(), Some("feed.xml"));
        assert_eq!(template_name("/pages/%2e%2e/x"), None);
        assert_eq!(template_name("/pages//x"), None);
    }

    #[test]
    fn the_first_value_of_each_parameter_is_taken() {
        let parameters = query_parameters("name=J%C3%BCrgen&name=other&x=a+b");
        assert_eq!(parameters["name"], "Jürgen");
        assert_eq!(parameters["x"], "a b");
    }
}
