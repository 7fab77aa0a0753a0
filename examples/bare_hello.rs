//! A bare actix-web server answering `GET /` with `hello world` and nothing else: the reference
//! `scripts/bench-kvs` and `scripts/bench-proxy` measure switchyard's own hello route against.
//! Built from this workspace, so it runs the same actix-web, actix-http and tokio versions.
//!   bare_hello PORT WORKERS

use actix_web::{web, App, HttpResponse, HttpServer};

async fn hello() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("hello world")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let number = |arg: Option<String>, what: &str| {
        arg.and_then(|a| a.parse::<usize>().ok()).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("usage: bare_hello PORT WORKERS ({what} missing or not a number)"),
            )
        })
    };
    let port = u16::try_from(number(args.next(), "PORT")?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let workers = number(args.next(), "WORKERS")?;
    HttpServer::new(|| App::new().route("/", web::get().to(hello)))
        .workers(workers)
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
