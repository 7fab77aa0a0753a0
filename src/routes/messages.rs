//! `/messages/<id>` and `/messages?xid=<xid>`: one tracked message's history
//! (docs/gateway.md#message-tracking), for whoever holds the monitoring token.

use actix::Addr;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use switchyard_actors::gateway::tracking::history::{FindMessage, MessageLog, MessageRef};
use switchyard_actors::gateway::tracking::is_xid;

use crate::error::ApiError;
use crate::routes::access::MonitorAccess;
use crate::routes::label::RouteLabel;

/// How `/metrics` labels this module's routes: monitoring, not visits.
pub const LABELS: &[RouteLabel] = &[RouteLabel::not_a_visit("messages", "/messages")];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/messages", web::get().to(by_xid))
        .route("/messages/{id}", web::get().to(by_id));
}

async fn by_id(
    _: MonitorAccess,
    id: web::Path<String>,
    log: web::Data<Addr<MessageLog>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.parse().map_err(|_| ApiError::BadMessageRef)?;
    find(MessageRef::Id(id), &log).await
}

async fn by_xid(
    _: MonitorAccess,
    req: HttpRequest,
    log: web::Data<Addr<MessageLog>>,
) -> Result<HttpResponse, ApiError> {
    // One `xid`, nothing else: a repeated or unknown parameter is refused, not guessed at.
    let query = web::Query::<XidQuery>::from_query(req.query_string());
    match query.map(web::Query::into_inner) {
        Ok(XidQuery { xid }) if is_xid(&xid) => find(MessageRef::Xid(xid), &log).await,
        _ => Err(ApiError::BadMessageRef),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XidQuery {
    xid: String,
}

async fn find(by: MessageRef, log: &Addr<MessageLog>) -> Result<HttpResponse, ApiError> {
    match log.send(FindMessage(by)).await?? {
        Some(history) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(history)),
        None => Err(ApiError::NoSuchMessage),
    }
}
