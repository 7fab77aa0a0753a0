//! [`AppJob`]: a gateway worker's job, answering each request with switchyard's own app routes
//! called in-process: the request message becomes an `actix_http::Request` handed to the `App`
//! service directly, with no socket in between.

use std::rc::Rc;

use actix_http::Request;
use actix_service::Service;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use futures_util::future::LocalBoxFuture;
use switchyard_actors::gateway::job::{Job, Outcome};
use switchyard_actors::gateway::message::{GatewayRequest, GatewayResponse};
use switchyard_actors::ops::metrics::{Metrics, Operation};

use crate::routes::gateway::messages::{error_answer, read_answer, AppRequest};

/// Answers each request with the app, called in process.
pub struct AppJob<S> {
    app: Rc<S>,
    metrics: Metrics,
}

impl<S> AppJob<S> {
    pub fn new(app: S, metrics: Metrics) -> Self {
        Self {
            app: Rc::new(app),
            metrics,
        }
    }
}

impl<S, B> Job for AppJob<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    fn handle(&self, _raw: Rc<str>, request: GatewayRequest) -> LocalBoxFuture<'static, Outcome> {
        let app = Rc::clone(&self.app);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let started = std::time::Instant::now();
            let id = request.id.clone();
            let destination = request.reply_to.clone();
            let (status, headers, body) = match AppRequest::try_from(request) {
                Ok(AppRequest(http)) => match app.call(http).await {
                    Ok(answer) => read_answer(answer).await,
                    Err(err) => error_answer(err.as_response_error()),
                },
                Err(err) => error_answer(&err),
            };
            metrics.record(Operation::Worker, started.elapsed());
            let response = GatewayResponse {
                id,
                status: status.as_u16(),
                headers,
                body,
            };
            Outcome::answer(&destination, &response)
        })
    }
}
