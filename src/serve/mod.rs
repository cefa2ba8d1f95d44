//! An authorization server: the same policy guarding any service behind nginx, Caddy,
//! Traefik, Envoy or Istio (the `serve` feature; `portcullis serve` on the command line).
//!
//! One [`Server`] answers three protocols with one [`Gate`], so every check is decided,
//! explained, logged and counted exactly as in-process, and follows the gate's reloads:
//!
//! - **forward-auth** over HTTP at `/check` (any method): the original request is stated by
//!   `X-Forwarded-Method` + `X-Forwarded-Uri` + `X-Forwarded-Host` (Traefik, Caddy) or
//!   `X-Original-Method` + `X-Original-URI` (nginx `auth_request`); every other header of the
//!   check is a header of the original request;
//! - **Envoy ext_authz, HTTP service**: the original target under a prefix (`/envoy` by
//!   default: Envoy's `path_prefix`), with the original method and headers;
//! - **Envoy ext_authz, gRPC** (`envoy.service.auth.v3.Authorization/Check`).
//!
//! `GET /healthz`, `GET /readyz` and `GET /metrics` (Prometheus text, when a recorder handle
//! is given) share the HTTP listener and are never checks.
//!
//! # Who may state the original request
//!
//! Only a TCP peer inside [`Forwarders`] (loopback by default). A check from anyone else is
//! refused 403 and logged, whatever it says. The client address is the address the forwarder
//! saw ([`ClientAddress`]: the hop it appended to `X-Forwarded-For`, or its `X-Real-IP`; for
//! gRPC, `attributes.source.address`); the policy's own `[client_ip]` settings then apply to
//! what lies beyond it, exactly as in-process. `docs/SERVE.md` walks through the chain.
//!
//! # Answers
//!
//! Allowed: 200 (gRPC `OK`) with `X-Portcullis-Client` and `X-Portcullis-Roles` for the proxy
//! to copy upstream. Refused: the verdict's 401, 403, 404 or 400 with the gate's short body
//! (gRPC `PERMISSION_DENIED`, or `UNAUTHENTICATED` for 401, with a `denied_response`); in the
//! nginx convention 404 and 400 are answered 403, since nginx turns them into 500s.
//!
//! ```no_run
//! use portcullis::gate::Gate;
//! use portcullis::serve::Server;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder(Gate::from_path("policy.toml")?)
//!     .forwarders("10.0.0.0/8".parse()?)
//!     .build();
//! let http = tokio::net::TcpListener::bind("0.0.0.0:9090").await?;
//! let grpc = tokio::net::TcpListener::bind("0.0.0.0:9191").await?;
//! let stop = || async { let _ = tokio::signal::ctrl_c().await; };
//! tokio::try_join!(
//!     async { server.serve_http(http, stop()).await.map_err(Box::<dyn std::error::Error>::from) },
//!     async { server.serve_grpc(grpc, stop()).await.map_err(Box::<dyn std::error::Error>::from) },
//! )?;
//! # Ok(()) }
//! ```

mod answer;
mod forwarders;
mod grpc;
mod http;
mod original;
mod prefix;

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

pub use answer::{CLIENT_HEADER, ROLES_HEADER};
pub use forwarders::{ClientAddress, ClientAddressError, Forwarders, ForwardersError};
pub use grpc::ExtAuthz;
pub use prefix::{EnvoyPrefix, EnvoyPrefixError};

use crate::gate::Gate;
use crate::AsRequestView;
use answer::Answer;
use original::{BadCheck, Convention};

/// The authorization server: a [`Gate`] answering forwarders over HTTP and gRPC.
///
/// Cloning is cheap; clones share the gate, the settings and the readiness.
///
/// ```
/// use portcullis::gate::Gate;
/// use portcullis::serve::{ClientAddress, Server};
/// use portcullis::Policy;
///
/// let gate = Gate::new(Policy::from_toml("[policy]\ndefault = \"forbid\"")?.compile()?);
/// let server = Server::builder(gate)
///     .forwarders("10.0.0.0/8".parse()?)
///     .client_address(ClientAddress::XRealIp)
///     .build();
/// assert!(server.is_ready());
/// let _routes = server.router(); // to mount in your own axum application
/// server.drain();
/// assert!(!server.is_ready());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    gate: Gate,
    forwarders: Forwarders,
    client: ClientAddress,
    envoy_prefix: EnvoyPrefix,
    metrics: Option<PrometheusHandle>,
    draining: AtomicBool,
}

/// Builds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
    gate: Gate,
    forwarders: Forwarders,
    client: ClientAddress,
    envoy_prefix: EnvoyPrefix,
    metrics: Option<PrometheusHandle>,
}

impl ServerBuilder {
    /// The peers that may state original requests (default: loopback).
    pub fn forwarders(mut self, forwarders: Forwarders) -> Self {
        self.forwarders = forwarders;
        self
    }

    /// Where forwarders put the client address they saw (default: `X-Forwarded-For`).
    pub fn client_address(mut self, client: ClientAddress) -> Self {
        self.client = client;
        self
    }

    /// The path prefix of Envoy's HTTP ext_authz checks (default `/envoy`; Envoy's
    /// `http_service.path_prefix`).
    pub fn envoy_prefix(mut self, prefix: EnvoyPrefix) -> Self {
        self.envoy_prefix = prefix;
        self
    }

    /// Serve `GET /metrics` from this Prometheus recorder's handle (install the recorder with
    /// `metrics_exporter_prometheus::PrometheusBuilder::install_recorder`).
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        Server {
            shared: Arc::new(Shared {
                gate: self.gate,
                forwarders: self.forwarders,
                client: self.client,
                envoy_prefix: self.envoy_prefix,
                metrics: self.metrics,
                draining: AtomicBool::new(false),
            }),
        }
    }
}

impl Server {
    /// A server over `gate` with default settings.
    pub fn new(gate: Gate) -> Server {
        Server::builder(gate).build()
    }

    /// A builder over `gate`.
    pub fn builder(gate: Gate) -> ServerBuilder {
        ServerBuilder {
            gate,
            forwarders: Forwarders::default(),
            client: ClientAddress::default(),
            envoy_prefix: EnvoyPrefix::default(),
            metrics: None,
        }
    }

    /// The gate deciding every check: reload or watch it as in-process.
    pub fn gate(&self) -> &Gate {
        &self.shared.gate
    }

    /// The HTTP routes (forward-auth, Envoy HTTP, health, readiness, metrics), for embedding.
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: without the peer
    /// address every check is refused.
    pub fn router(&self) -> axum::Router {
        http::router(self.shared.clone())
    }

    /// The Envoy ext_authz gRPC service, for embedding in a tonic server. Serve it over TCP
    /// (tonic's `TcpIncoming`), so that the peer address is known: without it every check is
    /// refused.
    pub fn grpc_service(&self) -> grpc::AuthorizationServer<ExtAuthz> {
        grpc::AuthorizationServer::new(ExtAuthz {
            shared: self.shared.clone(),
        })
    }

    /// Serves the HTTP routes on `listener` until `shutdown` completes, then finishes the
    /// requests in flight.
    pub async fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        let app = self
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        // A check is one small request and one small answer: send each at once.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves the gRPC service on `listener` until `shutdown` completes, then finishes the
    /// calls in flight.
    pub async fn serve_grpc(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_service(self.grpc_service())
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
    }

    /// Marks the server as shutting down: `/readyz` answers 503 from now on, so that load
    /// balancers stop sending checks while the ones in flight finish.
    pub fn drain(&self) {
        self.shared.draining.store(true, Ordering::Relaxed);
    }

    /// Whether `/readyz` answers 200: a policy is loaded (a server always has one) and the
    /// server is not draining.
    pub fn is_ready(&self) -> bool {
        !self.shared.draining.load(Ordering::Relaxed)
    }
}

impl Shared {
    /// Puts one check to the gate: refused unless `peer` is a forwarder and the check states
    /// an original request; counted and logged either way.
    fn answer(
        &self,
        peer: Option<IpAddr>,
        convention: Convention,
        original: impl FnOnce() -> Result<(crate::Request, Convention), BadCheck>,
    ) -> (Answer, Convention) {
        let stated = match peer {
            Some(peer) if self.forwarders.contains(peer) => original(),
            _ => Err(BadCheck::NotForwarder),
        };
        match stated {
            Ok((request, convention)) => {
                let answer = Answer::from(self.gate.check(&request.view()));
                metrics::counter!(
                    "portcullis_serve_checks_total",
                    "protocol" => convention.label(),
                    "answer" => answer.label()
                )
                .increment(1);
                (answer, convention)
            }
            Err(bad) => {
                let peer = peer.map(|p| p.to_string()).unwrap_or_default();
                tracing::warn!(
                    target: "portcullis::serve", protocol = convention.label(), peer = %peer,
                    reason = bad.label(), "check refused: {bad}"
                );
                metrics::counter!(
                    "portcullis_serve_checks_total",
                    "protocol" => convention.label(),
                    "answer" => "refused"
                )
                .increment(1);
                metrics::counter!(
                    "portcullis_serve_bad_checks_total",
                    "protocol" => convention.label(),
                    "reason" => bad.label()
                )
                .increment(1);
                (Answer::from(bad), convention)
            }
        }
    }
}
