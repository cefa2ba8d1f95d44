//! Envoy's ext_authz gRPC service (`envoy.service.auth.v3.Authorization/Check`).

use std::sync::Arc;

use envoy_types::pb::envoy::service::auth::v3::authorization_server::Authorization;
pub(super) use envoy_types::pb::envoy::service::auth::v3::authorization_server::AuthorizationServer;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};

use super::answer;
use super::original::{self, Convention};
use super::Shared;

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
            original::grpc(check).map(|r| (r, Convention::Grpc))
        });
        Ok(tonic::Response::new(answer::grpc(answer)))
    }
}
