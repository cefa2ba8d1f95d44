//! axum: one line to guard a router, and the [`Caller`] as an extractor.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use axum::{routing::get, Router};
//! use portcullis::gate::{Caller, Gate};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let gate = Gate::from_path("policy.toml")?;
//! let app = Router::new()
//!     .route("/whoami", get(|caller: Caller| async move { format!("{:?}", caller.client) }))
//!     .layer(portcullis::adapters::axum::layer(gate));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::StatusCode;

use crate::adapters::tower::PolicyLayer;
use crate::gate::{Caller, Gate};

/// The layer for an axum router; the peer comes from `ConnectInfo<SocketAddr>`, so serve the
/// router with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn layer(gate: Gate) -> PolicyLayer {
    PolicyLayer::new(gate)
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "no portcullis caller: the layer is not installed on this route, or was built without_caller()",
        ))
    }
}

/// The caller, if the layer ran: for routes that may be served without it.
impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned())
    }
}
