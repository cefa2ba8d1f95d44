//! Tower middleware (axum, tonic, hyper): [`PolicyLayer`] and [`PolicyService`].
//!
//! ```
//! use std::net::SocketAddr;
//! use portcullis::adapters::tower::PolicyLayer;
//! use portcullis::gate::Gate;
//! use portcullis::Policy;
//!
//! let gate = Gate::new(Policy::from_toml("[policy]\ndefault = \"allow\"")?.compile()?);
//! // Read the peer from a `SocketAddr` that the server put into the request extensions.
//! let layer = PolicyLayer::new(gate).peer_from(|ext| ext.get::<SocketAddr>().map(|a| a.ip()));
//! # let _ = layer;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::respond::{self, OrDenied};
use crate::gate::{Denial, Gate, Outcome};
use crate::RequestView;

/// Finds the TCP peer of a request in its extensions.
pub type PeerFn = Arc<dyn Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync>;

/// Applies a policy to every request of the wrapped service.
#[derive(Clone)]
pub struct PolicyLayer {
    gate: Gate,
    peer: PeerFn,
    caller: bool,
}

impl std::fmt::Debug for PolicyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyLayer")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

impl PolicyLayer {
    /// A layer reading the peer from a `SocketAddr` in the extensions (and, with the `axum`
    /// feature, from axum's `ConnectInfo<SocketAddr>`).
    pub fn new(gate: Gate) -> PolicyLayer {
        PolicyLayer {
            gate,
            peer: Arc::new(default_peer),
            caller: true,
        }
    }

    /// Lets requests through without putting a [`Caller`](crate::gate::Caller) into their
    /// extensions: for services whose handlers never read it. Decisions, counters and logs are
    /// the same; each request saves building the caller and an extension insert, often the
    /// larger part of the layer's own cost.
    pub fn without_caller(mut self) -> Self {
        self.caller = false;
        self
    }

    /// Reads the peer with `peer` instead.
    pub fn peer_from(
        mut self,
        peer: impl Fn(&http::Extensions) -> Option<IpAddr> + Send + Sync + 'static,
    ) -> Self {
        self.peer = Arc::new(peer);
        self
    }

    /// The gate this layer asks.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }
}

fn default_peer(ext: &http::Extensions) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = ext.get::<::axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    ext.get::<SocketAddr>().map(SocketAddr::ip)
}

impl<S> Layer<S> for PolicyLayer {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> PolicyService<S> {
        PolicyService {
            inner,
            gate: self.gate.clone(),
            peer: self.peer.clone(),
            caller: self.caller,
        }
    }
}

/// The service made by [`PolicyLayer`].
#[derive(Clone)]
pub struct PolicyService<S> {
    inner: S,
    gate: Gate,
    peer: PeerFn,
    caller: bool,
}

impl<S: std::fmt::Debug> std::fmt::Debug for PolicyService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PolicyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<PolicyBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let peer = (self.peer)(request.extensions());
        let view = RequestView::from_http(&request, peer);
        // Inside a nested axum router the URI has lost its prefix; decide on the original.
        #[cfg(feature = "axum")]
        let view = match request.extensions().get::<::axum::extract::OriginalUri>() {
            Some(original) => view.with_target(
                original
                    .0
                    .path_and_query()
                    .map_or("", |pq| pq.as_str())
                    .as_bytes(),
            ),
            None => view,
        };
        match self.gate.check(&view) {
            Outcome::Pass(caller) => {
                if self.caller {
                    request.extensions_mut().insert(caller);
                }
                ResponseFuture {
                    kind: OrDenied::Inner {
                        future: self.inner.call(request),
                    },
                }
            }
            Outcome::Deny(denial) => ResponseFuture {
                kind: OrDenied::Denied {
                    denial: Some(denial),
                },
            },
        }
    }
}

pin_project! {
    /// The response future of [`PolicyService`]: the inner service's, or a ready refusal.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: OrDenied<F, Denial>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<PolicyBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().kind.poll_map(
            cx,
            |r| {
                r.map(|res| {
                    res.map(|body| PolicyBody {
                        kind: BodyKind::Inner { body },
                    })
                })
            },
            |denial| {
                let denial = denial.unwrap_or_else(|| Denial::plain(403, "Forbidden\n"));
                Ok(denial_response(denial))
            },
        )
    }
}

fn denial_response<B>(denial: Denial) -> Response<PolicyBody<B>> {
    let mut response = Response::new(PolicyBody {
        kind: BodyKind::Denied {
            body: Some(denial.body),
        },
    });
    *response.status_mut() = StatusCode::from_u16(denial.status).unwrap_or(StatusCode::FORBIDDEN);
    for (name, value) in respond::headers::<HeaderName, HeaderValue>(denial.headers) {
        response.headers_mut().append(name, value);
    }
    response
}

pin_project! {
    /// The response body: the inner service's, or a refusal's.
    pub struct PolicyBody<B> {
        #[pin]
        kind: BodyKind<B>,
    }
}

pin_project! {
    #[project = BodyKindProj]
    enum BodyKind<B> {
        Inner { #[pin] body: B },
        Denied { body: Option<Bytes> },
    }
}

impl<B> Body for PolicyBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            BodyKindProj::Inner { body } => body.poll_frame(cx),
            BodyKindProj::Denied { body } => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Inner { body } => body.is_end_stream(),
            BodyKind::Denied { body } => body.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Inner { body } => body.size_hint(),
            BodyKind::Denied { body } => {
                SizeHint::with_exact(body.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}
