//! The key-value API, in both dialects. The same handlers serve the main and the forwarders:
//! they send `Put`, `Get` and `Delete` to whichever actors `startup` chose for the role.

mod dialect;
mod form;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Recipient};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use switchyard_actors::keyvalue::{Key, Value};
use switchyard_actors::store::{Delete, DeleteOutcome, Get, Put};

use crate::error::{ApiError, Problem};
use dialect::{Dialect, KvStore, Kvs};

/// The actors that answer key-value messages on this worker thread: a `Store` on the main,
/// a `Forwarder` elsewhere.
pub struct KvsActors {
    put: Recipient<Put>,
    get: Recipient<Get>,
    delete: Recipient<Delete>,
}

impl<A> From<Addr<A>> for KvsActors
where
    A: Actor + Handler<Put> + Handler<Get> + Handler<Delete>,
    A::Context: ToEnvelope<A, Put> + ToEnvelope<A, Get> + ToEnvelope<A, Delete>,
{
    fn from(addr: Addr<A>) -> Self {
        Self {
            put: addr.clone().recipient(),
            get: addr.clone().recipient(),
            delete: addr.recipient(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    dialect_routes::<Kvs>(cfg, "/kvs");
    dialect_routes::<KvStore>(cfg, "/kv-store");
}

/// `<prefix>/<key>`; a key with a `/` in it, or none at all, reaches the handlers too, so it
/// gets the dialect's "key not valid" rather than a bare 404.
fn dialect_routes<D: Dialect>(cfg: &mut web::ServiceConfig, prefix: &str) {
    let paths = [prefix.to_owned(), format!("{prefix}/{{key:.*}}")];
    cfg.service(
        web::resource(paths)
            .route(web::get().to(get::<D>))
            .route(web::put().to(put::<D>))
            .route(web::delete().to(delete::<D>))
            .default_service(web::to(method_not_allowed::<D>)),
    );
}

fn key_of(req: &HttpRequest) -> Result<Key, Problem> {
    Ok(Key::parse(req.match_info().get("key").unwrap_or_default())?)
}

async fn put<D: Dialect>(
    req: HttpRequest,
    payload: web::Payload,
    actors: web::Data<KvsActors>,
) -> Result<HttpResponse, ApiError<D>> {
    let key = key_of(&req)?;
    let val = form::read_val(req.headers(), payload).await?;
    let value = Value::new(val.as_deref().unwrap_or_default())?;
    let outcome = actors.put.send(Put { key, value }).await??;
    Ok(D::put_answer(outcome))
}

async fn get<D: Dialect>(
    req: HttpRequest,
    actors: web::Data<KvsActors>,
) -> Result<HttpResponse, ApiError<D>> {
    let key = key_of(&req)?;
    match actors.get.send(Get { key }).await?? {
        Some(value) => Ok(D::found(&value)),
        None => Err(Problem::KeyNotFound.into()),
    }
}

async fn delete<D: Dialect>(
    req: HttpRequest,
    actors: web::Data<KvsActors>,
) -> Result<HttpResponse, ApiError<D>> {
    let key = key_of(&req)?;
    match actors.delete.send(Delete { key }).await?? {
        DeleteOutcome::Deleted => Ok(D::deleted()),
        DeleteOutcome::NotFound => Err(Problem::KeyNotFound.into()),
    }
}

async fn method_not_allowed<D: Dialect>() -> HttpResponse {
    let mut response = D::problem_response(&Problem::MethodNotAllowed);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, PUT, DELETE"));
    response
}
