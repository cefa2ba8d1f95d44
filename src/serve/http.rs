//! The HTTP listener: forward-auth at `/check`, Envoy's HTTP service under its prefix,
//! health, readiness and metrics.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, StatusCode};

use super::answer;
use super::original::{self, Convention};
use super::Shared;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(check)
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.load(std::sync::atomic::Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        "ready\n".into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.metrics {
        Some(handle) => (
            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

/// The convention a forward-auth check that cannot be read is answered in: nginx's when it
/// carries any of its headers, since nginx turns a 400 into a 500.
fn hint(headers: &HeaderMap) -> Convention {
    if headers.contains_key("x-original-uri") || headers.contains_key("x-original-method") {
        Convention::Original
    } else {
        Convention::Forwarded
    }
}

async fn check(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let target = parts
        .uri
        .path_and_query()
        .map_or("", |pq| pq.as_str())
        .as_bytes();
    let (answer, convention) = if parts.uri.path() == "/check" {
        shared.answer(peer, hint(&parts.headers), || {
            original::forward_auth(&parts.headers, shared.client)
        })
    } else if let Some(rest) = envoy_target(target, shared.envoy_prefix.as_str().as_bytes()) {
        shared.answer(peer, Convention::EnvoyHttp, || {
            original::envoy_http(&parts.method, rest, &parts.headers, shared.client)
                .map(|r| (r, Convention::EnvoyHttp))
        })
    } else {
        return (
            StatusCode::NOT_FOUND,
            "not a check: use /check or the Envoy prefix\n",
        )
            .into_response();
    };
    answer::http(answer, convention).map(Body::from)
}

/// The original target of an Envoy check: what follows the prefix, when the prefix is a
/// whole segment.
fn envoy_target<'t>(target: &'t [u8], prefix: &[u8]) -> Option<&'t [u8]> {
    let rest = target.strip_prefix(prefix)?;
    match rest.first() {
        None | Some(b'/') | Some(b'?') => Some(rest),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::envoy_target;

    #[test]
    fn envoy_prefix_is_a_whole_segment() {
        let p = b"/envoy".as_slice();
        assert_eq!(envoy_target(b"/envoy/a?b", p), Some(b"/a?b".as_slice()));
        assert_eq!(envoy_target(b"/envoy", p), Some(b"".as_slice()));
        assert_eq!(envoy_target(b"/envoy?x", p), Some(b"?x".as_slice()));
        assert_eq!(envoy_target(b"/envoyx/a", p), None);
        assert_eq!(envoy_target(b"/check", p), None);
    }
}
