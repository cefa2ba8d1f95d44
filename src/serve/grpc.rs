//! Envoy's ext_authz gRPC service (`envoy.service.auth.v3.Authorization/Check`).

use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::service::auth::v3::authorization_server::Authorization;
pub(super) use envoy_types::pb::envoy::service::auth::v3::authorization_server::AuthorizationServer;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};

use super::answer;
use super::original::{identity_twin, parse_address, BadCheck, Convention};
use super::Shared;
use crate::Request;

/// The gRPC service a [`Server`](super::Server) answers Envoy with; see
/// [`Server::grpc_service`](super::Server::grpc_service).
///
/// A check that cannot be put to the policy (from a peer that is not a forwarder, or without
/// the request attributes) is answered with a denial, never a gRPC error: Envoy's
/// `failure_mode_allow` lets requests through on errors.
#[derive(Debug, Clone)]
pub struct ExtAuthz {
    pub(super) shared: Arc<Shared>,
}

#[tonic::async_trait]
impl Authorization for ExtAuthz {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let peer = request.remote_addr().map(|a| a.ip());
        let check = request.get_ref();
        let (answer, _) = self.shared.answer(peer, Convention::Grpc, || {
            original(check).map(|r| (r, Convention::Grpc))
        });
        Ok(tonic::Response::new(answer::grpc(answer)))
    }
}

/// The original request of an Envoy gRPC check: the client is `attributes.source.address`
/// (what Envoy saw), the method, raw target with query, host and headers come from
/// `attributes.request.http`. Headers come from `header_map` when Envoy sends raw headers,
/// else from the `headers` map (where Envoy has joined repeated lines with `,`), in name order.
fn original(check: &CheckRequest) -> Result<Request, BadCheck> {
    let attributes = check.attributes.as_ref().ok_or(BadCheck::NoStatement)?;
    let http = attributes
        .request
        .as_ref()
        .and_then(|r| r.http.as_ref())
        .ok_or(BadCheck::NoStatement)?;
    let address = attributes
        .source
        .as_ref()
        .and_then(|p| p.address.as_ref())
        .and_then(|a| a.address.as_ref())
        .ok_or(BadCheck::NoClientAddress)?;
    let Address::SocketAddress(socket) = address else {
        return Err(BadCheck::NoClientAddress);
    };
    let peer = parse_address(socket.address.as_bytes())?;
    let mut request = Request::new(http.method.clone(), http.path.as_bytes().to_vec()).peer(peer);
    if !http.host.is_empty() {
        request = request.header("host", http.host.as_bytes());
    }
    // Pseudo-headers restate the method, path and host; `host` is the field above.
    let keep = |name: &str| !name.starts_with(':') && !name.eq_ignore_ascii_case("host");
    let raw = http.header_map.as_ref().filter(|m| !m.headers.is_empty());
    let twin = match raw {
        Some(map) => map.headers.iter().any(|h| identity_twin(&h.key)),
        None => http.headers.keys().any(|n| identity_twin(n)),
    };
    if twin {
        return Err(BadCheck::IdentityTwin);
    }
    match raw {
        Some(map) => {
            for h in map.headers.iter().filter(|h| keep(&h.key)) {
                let value = if h.raw_value.is_empty() {
                    h.value.as_bytes()
                } else {
                    h.raw_value.as_slice()
                };
                request = request.header(h.key.to_ascii_lowercase(), value);
            }
        }
        None => {
            let mut lines: Vec<(&String, &String)> =
                http.headers.iter().filter(|(n, _)| keep(n)).collect();
            lines.sort();
            for (name, value) in lines {
                request = request.header(name.to_ascii_lowercase(), value.as_bytes());
            }
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::{Address as CoreAddress, SocketAddress};
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
        HttpRequest, Peer, Request as AttrRequest,
    };
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;

    fn check(headers: &[(&str, &str)]) -> CheckRequest {
        CheckRequest {
            attributes: Some(AttributeContext {
                source: Some(Peer {
                    address: Some(CoreAddress {
                        address: Some(Address::SocketAddress(SocketAddress {
                            address: "192.0.2.1".to_owned(),
                            ..SocketAddress::default()
                        })),
                    }),
                    ..Peer::default()
                }),
                request: Some(AttrRequest {
                    http: Some(HttpRequest {
                        method: "GET".to_owned(),
                        path: "/".to_owned(),
                        host: "shop.example".to_owned(),
                        headers: headers
                            .iter()
                            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                            .collect(),
                        ..HttpRequest::default()
                    }),
                    ..AttrRequest::default()
                }),
                ..AttributeContext::default()
            }),
        }
    }

    #[test]
    fn identity_twins_are_refused() {
        assert!(original(&check(&[("x-portcullis-client", "a")])).is_ok());
        for name in ["x_portcullis_client", "x-portcullis_roles"] {
            assert_eq!(
                original(&check(&[(name, "billing")])).map(|_| ()),
                Err(BadCheck::IdentityTwin),
                "{name}"
            );
        }
    }
}
