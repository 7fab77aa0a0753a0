//! `/rquery/<command>/<key>[/<arg>...]`: read-only Redis commands on keys of the public namespace,
//! answered as JSON (docs/web-server.md).

use actix::Addr;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::Value as Json;
use switchyard_actors::web::rquery::{Query, ReadCommand, Rquery};

use crate::error::ApiError;
use crate::routes::label::RouteLabel;

const PREFIX: &str = "/rquery/";

/// How `/metrics` labels this module's routes.
pub const LABELS: &[RouteLabel] = &[RouteLabel::visit("rquery", "/rquery/{command}/{key}")];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/rquery").default_service(web::to(query)));
}

#[derive(Serialize)]
struct Answer {
    msg: &'static str,
    value: Json,
}

async fn query(
    req: HttpRequest,
    rquery: web::Data<Addr<Rquery>>,
) -> Result<HttpResponse, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    let rest = req.path().strip_prefix(PREFIX).unwrap_or_default();
    let mut segments = rest.split('/').map(|segment| {
        percent_decode_str(segment)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| ApiError::NotUtf8)
    });
    let name = segments.next().transpose()?.unwrap_or_default();
    let command = ReadCommand::parse(&name).ok_or(ApiError::CommandNotAllowed(name))?;
    let key = segments.next().transpose()?.unwrap_or_default();
    let args = segments.collect::<Result<Vec<String>, ApiError>>()?;
    let query = Query::new(command, key, args)?;
    let value = rquery.send(query).await??;
    Ok(HttpResponse::Ok().json(Answer {
        msg: "success",
        value,
    }))
}
