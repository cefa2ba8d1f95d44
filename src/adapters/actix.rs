//! actix-web middleware: [`PolicyMiddleware`].
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use portcullis::adapters::actix::PolicyMiddleware;
//! use portcullis::gate::{Caller, Gate};
//!
//! # async fn run() -> std::io::Result<()> {
//! let gate = Gate::from_path("policy.toml").expect("policy");
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(PolicyMiddleware::new(gate.clone()))
//!         .route("/whoami", web::get().to(|caller: web::ReqData<Caller>| async move {
//!             format!("{:?}", caller.client)
//!         }))
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await
//! # }
//! ```

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpMessage, HttpResponse};
use pin_project_lite::pin_project;

use super::respond::{self, OrDenied};
use crate::engine::request::{HeaderSource, HeaderStore};
use crate::gate::{Denial, Gate, Outcome};
use crate::RequestView;

impl<'a> RequestView<'a> {
    /// A view of an actix-web request; the peer is the connection's address.
    pub fn from_actix(request: &'a ServiceRequest) -> RequestView<'a> {
        let uri = request.uri();
        RequestView::from_parts(
            request.method().as_str(),
            uri.path_and_query().map(|pq| pq.as_str()),
            uri.authority().map(|a| a.as_str()),
            HeaderSource::Store(request.headers()),
            request.headers().keys().map(|k| k.as_str()),
            request.peer_addr().map(|a| a.ip()),
        )
    }
}

/// actix-web keeps its own header map (on `http` 0.2); the engine reads it through this.
impl HeaderStore for actix_web::http::header::HeaderMap {
    fn value(&self, name: &str, skip: usize) -> Option<&[u8]> {
        self.get_all(name).nth(skip).map(HeaderValue::as_bytes)
    }

    fn lines(&self) -> Box<dyn Iterator<Item = (&str, &[u8])> + '_> {
        Box::new(self.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))
    }
}

/// Applies a policy to every request of an actix-web app or scope; the peer is the
/// connection's address.
#[derive(Debug, Clone)]
pub struct PolicyMiddleware {
    gate: Gate,
    caller: bool,
}

impl PolicyMiddleware {
    /// Middleware asking `gate`.
    pub fn new(gate: Gate) -> PolicyMiddleware {
        PolicyMiddleware { gate, caller: true }
    }

    /// Lets requests through without putting a [`Caller`](crate::gate::Caller) into their
    /// extensions: for apps whose handlers never read it. Decisions, counters and logs are the
    /// same; each request saves building the caller and an extension insert.
    pub fn without_caller(mut self) -> Self {
        self.caller = false;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for PolicyMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = PolicyService<S>;
    type InitError = ();
    type Future = Ready<Result<PolicyService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PolicyService {
            service,
            gate: self.gate.clone(),
            caller: self.caller,
        }))
    }
}

/// The service made by [`PolicyMiddleware`].
#[derive(Debug)]
pub struct PolicyService<S> {
    service: S,
    gate: Gate,
    caller: bool,
}

impl<S, B> Service<ServiceRequest> for PolicyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = PolicyFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let view = RequestView::from_actix(&request);
        match self.gate.check(&view) {
            Outcome::Pass(caller) => {
                if self.caller {
                    request.extensions_mut().insert(caller);
                }
                PolicyFuture {
                    kind: OrDenied::Inner {
                        future: self.service.call(request),
                    },
                }
            }
            Outcome::Deny(denial) => {
                let response = denial_response(denial);
                PolicyFuture {
                    kind: OrDenied::Denied {
                        denial: Some(request.into_response(response)),
                    },
                }
            }
        }
    }
}

fn denial_response(denial: Denial) -> HttpResponse {
    let status = StatusCode::from_u16(denial.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = HttpResponse::build(status);
    for header in respond::headers::<HeaderName, HeaderValue>(denial.headers) {
        response.append_header(header);
    }
    response.body(denial.body)
}

pin_project! {
    /// The response future of [`PolicyService`]: the inner service's, or a ready refusal.
    pub struct PolicyFuture<F> {
        #[pin]
        kind: OrDenied<F, ServiceResponse<BoxBody>>,
    }
}

impl<F, B> Future for PolicyFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().kind.poll_map(
            cx,
            |r| r.map(ServiceResponse::map_into_left_body),
            |denied| match denied {
                Some(r) => Ok(r.map_into_right_body()),
                None => Err(actix_web::error::ErrorInternalServerError(
                    "polled after completion",
                )),
            },
        )
    }
}
