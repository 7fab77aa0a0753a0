//! The key-value API, in every dialect. The same handlers serve the main and the forwarders:
//! they send `Put`, `Get` and `Delete` to whichever actors `startup` chose for the role.

mod dialect;
mod form;
mod link;
mod named_key;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Recipient};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use switchyard_actors::kvs::forwarder::{Forwarder, RELAYED_HEADER};
use switchyard_actors::kvs::messages::{Delete, DeleteOutcome, Get, Put};
use switchyard_actors::kvs::store::{ApplyLinkRequests, Store};
use switchyard_actors::kvs::store_gate::StoreGate;
use switchyard_actors::ops::metrics::{Metrics, Operation};

use crate::error::ApiError;
use crate::routes::label::RouteLabel;
use dialect::{Dialect, KvStore, Kvs};
use named_key::NamedKey;

/// The actors that answer key-value messages on this worker thread: a `Store` on the main,
/// a `Forwarder` elsewhere.
pub struct KvsActors {
    put: Recipient<Put>,
    get: Recipient<Get>,
    delete: Recipient<Delete>,
    /// The main's store, which also answers forwarders' links (`/kvs-link`); none on a
    /// forwarder.
    link: Option<LinkTarget>,
}

/// What a forwarder's link reaches on the main: its thread's store, and the gate that closes
/// the link as the main stops.
#[derive(Clone)]
struct LinkTarget {
    store: Recipient<ApplyLinkRequests>,
    gate: StoreGate,
}

impl KvsActors {
    /// The main's actors: its store answers requests and forwarders' links, which close when
    /// `gate` does.
    pub fn main(store: Addr<Store>, gate: StoreGate) -> Self {
        Self {
            link: Some(LinkTarget {
                store: store.clone().recipient(),
                gate,
            }),
            ..Self::answering(store)
        }
    }

    /// A forwarder's actors: a request that another forwarder relayed here is refused instead
    /// of relayed again, and so is a link.
    pub fn forwarder(forwarder: Addr<Forwarder>) -> Self {
        Self::answering(forwarder)
    }

    fn answering<A>(addr: Addr<A>) -> Self
    where
        A: Actor + Handler<Put> + Handler<Get> + Handler<Delete>,
        A::Context: ToEnvelope<A, Put> + ToEnvelope<A, Get> + ToEnvelope<A, Delete>,
    {
        Self {
            put: addr.clone().recipient(),
            get: addr.clone().recipient(),
            delete: addr.recipient(),
            link: None,
        }
    }

    /// Whether these actors are a forwarder's.
    fn forwards(&self) -> bool {
        self.link.is_none()
    }
}

/// How `/metrics` labels this module's routes (the main's `/kvs-link` as `other`, as before
/// it was declared here).
pub const LABELS: &[RouteLabel] = &[
    RouteLabel::visit("kvs", "/kvs/{key}"),
    RouteLabel::visit("kv-store", "/kv-store/{key}"),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(link::configure);
    cfg.service(web::scope("/kvs").default_service(web::to(dispatch::<Kvs>)));
    cfg.service(web::scope("/kv-store").default_service(web::to(dispatch::<KvStore>)));
}

/// Everything under a dialect's prefix arrives here. A static scope and a method match are
/// cheaper than a `{key}` route, whose pattern is a regular expression run on every request;
/// and a key with a `/` in it, or none at all, gets the dialect's "key not valid" rather than a
/// bare 404.
async fn dispatch<D: Dialect>(
    req: HttpRequest,
    payload: web::Payload,
    actors: web::Data<KvsActors>,
    metrics: web::Data<Metrics>,
) -> HttpResponse {
    let started = std::time::Instant::now();
    let answered = match *req.method() {
        // A forwarder relayed it to a forwarder: MAINIP names a forwarder, maybe itself.
        // Relaying it again would go round until the first one's timeout, a request at every
        // turn.
        _ if actors.forwards() && req.headers().contains_key(RELAYED_HEADER) => {
            Err(ApiError::ForwardingLoop)
        }
        Method::GET => get::<D>(&req, &actors).await,
        Method::PUT => put::<D>(&req, payload, &actors).await,
        Method::DELETE => delete::<D>(&req, &actors).await,
        _ => Err(ApiError::MethodNotAllowed),
    };
    metrics.record(Operation::Kvs, started.elapsed());
    answered.unwrap_or_else(|err| {
        let mut response = D::error_response(&err);
        if matches!(err, ApiError::MethodNotAllowed) {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, PUT, DELETE"));
        }
        response
    })
}

async fn put<D: Dialect>(
    req: &HttpRequest,
    payload: web::Payload,
    actors: &KvsActors,
) -> Result<HttpResponse, ApiError> {
    let named = NamedKey::of::<D>(req)?;
    let body = form::read_form(req.headers(), payload).await?;
    let (key, value) = named.with_form::<D>(&body)?;
    let outcome = actors.put.send(Put { key, value }).await??;
    Ok(D::put_answer(outcome))
}

async fn get<D: Dialect>(req: &HttpRequest, actors: &KvsActors) -> Result<HttpResponse, ApiError> {
    let key = NamedKey::of::<D>(req)?.key()?;
    match actors.get.send(Get { key }).await?? {
        Some(value) => Ok(D::found(&value)),
        None => Err(ApiError::KeyNotFound),
    }
}

async fn delete<D: Dialect>(
    req: &HttpRequest,
    actors: &KvsActors,
) -> Result<HttpResponse, ApiError> {
    let key = NamedKey::of::<D>(req)?.key()?;
    match actors.delete.send(Delete { key }).await?? {
        DeleteOutcome::Deleted => Ok(D::deleted()),
        DeleteOutcome::NotFound => Err(ApiError::KeyNotFound),
    }
}
