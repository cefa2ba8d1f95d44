//! Turning a gate's outcome into each protocol's answer.

use bytes::Bytes;
use envoy_types::pb::envoy::config::core::v3::{
    header_value_option::HeaderAppendAction, HeaderValue, HeaderValueOption,
};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::auth::v3::{
    check_response::HttpResponse, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use http::{HeaderName, Response, StatusCode};

use super::original::{BadCheck, Convention};
use crate::gate::{Caller, Denial, Outcome};

/// The header carrying the allowed caller's API client, for the proxy to copy upstream.
pub const CLIENT_HEADER: &str = "x-portcullis-client";
/// The header carrying the allowed caller's roles, comma-separated.
pub const ROLES_HEADER: &str = "x-portcullis-roles";

/// What one check is answered: let through with a caller, or refused.
#[derive(Debug)]
pub(crate) enum Answer {
    Allow(Caller),
    Deny(Denial),
}

impl From<Outcome> for Answer {
    fn from(outcome: Outcome) -> Answer {
        match outcome {
            Outcome::Pass(caller) => Answer::Allow(caller),
            Outcome::Deny(denial) => Answer::Deny(denial),
        }
    }
}

impl From<BadCheck> for Answer {
    fn from(bad: BadCheck) -> Answer {
        Answer::Deny(match bad.status() {
            400 => Denial::plain(400, "Bad Request\n"),
            _ => Denial::plain(403, "Forbidden\n"),
        })
    }
}

impl Answer {
    /// The label used in metrics.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Answer::Allow(_) => "allow",
            Answer::Deny(_) => "deny",
        }
    }
}

/// The caller's identity headers, if it has any.
///
/// A token's client and roles come from its issuer, not from the policy, and may hold any
/// text: a client name with a comma, or a role that is not an HTTP token (a comma, a space,
/// a quote), would read as more than one value to a service that splits the header, so the
/// client is then left out and such a role is dropped from the list.
fn identity(caller: &Caller) -> [Option<(&'static str, String)>; 2] {
    let plain = |v: &str| crate::engine::path::is_token(v.as_bytes());
    let roles: Vec<&str> = caller
        .roles
        .iter()
        .map(String::as_str)
        .filter(|r| plain(r))
        .collect();
    [
        caller
            .client
            .as_deref()
            .filter(|c| !c.contains(','))
            .map(|c| (CLIENT_HEADER, c.to_owned())),
        (!roles.is_empty()).then(|| (ROLES_HEADER, roles.join(","))),
    ]
}

/// The HTTP answer: 200 with the caller's headers, or the refusal (400 and 404 as 403 in the
/// nginx convention).
pub(crate) fn http(answer: Answer, convention: Convention) -> Response<Bytes> {
    match answer {
        Answer::Allow(caller) => {
            let mut response = Response::new(Bytes::new());
            let headers = response.headers_mut();
            let mut removed = Vec::new();
            for (i, header) in identity(&caller).into_iter().enumerate() {
                match header.and_then(|(n, v)| Some((n, http::HeaderValue::from_str(&v).ok()?))) {
                    Some((name, value)) => {
                        headers.insert(HeaderName::from_static(name), value);
                    }
                    None => removed.push([CLIENT_HEADER, ROLES_HEADER][i]),
                }
            }
            if removed.is_empty() {
                return response;
            }
            if convention == Convention::EnvoyHttp {
                // Envoy drops these from the upstream request, so that a client cannot send
                // its own.
                if let Ok(v) = http::HeaderValue::from_str(&removed.join(",")) {
                    headers.insert("x-envoy-auth-headers-to-remove", v);
                }
            } else {
                // Sent empty rather than left out: a proxy that copies the headers upstream
                // then overwrites whatever the client sent (nginx drops an empty one; Caddy
                // 2.6 would copy its own placeholder text for a missing one).
                for name in removed {
                    headers.insert(
                        HeaderName::from_static(name),
                        http::HeaderValue::from_static(""),
                    );
                }
            }
            response
        }
        Answer::Deny(denial) => {
            let status = convention.status(denial.status);
            let mut response = Response::new(denial.body);
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            for (name, value) in denial.headers {
                if let Ok(v) = http::HeaderValue::from_str(&value) {
                    response
                        .headers_mut()
                        .append(HeaderName::from_static(name), v);
                }
            }
            response
        }
    }
}

fn header(key: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value,
            ..HeaderValue::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

/// The gRPC answer: `OK` with the caller's headers set (and removed when it has none, so that a
/// client cannot send its own), or `PERMISSION_DENIED` (`UNAUTHENTICATED` for 401) with the
/// refusal's status, headers and body.
pub(crate) fn grpc(answer: Answer) -> CheckResponse {
    match answer {
        Answer::Allow(caller) => {
            let mut ok = OkHttpResponse::default();
            for (i, h) in identity(&caller).into_iter().enumerate() {
                match h {
                    Some((name, value)) => ok.headers.push(header(name, value)),
                    None => ok
                        .headers_to_remove
                        .push([CLIENT_HEADER, ROLES_HEADER][i].to_owned()),
                }
            }
            CheckResponse {
                status: Some(rpc::Status {
                    code: tonic::Code::Ok as i32,
                    ..rpc::Status::default()
                }),
                http_response: Some(HttpResponse::OkResponse(ok)),
                ..CheckResponse::default()
            }
        }
        Answer::Deny(denial) => {
            let code = match denial.status {
                401 => tonic::Code::Unauthenticated,
                _ => tonic::Code::PermissionDenied,
            };
            let denied = DeniedHttpResponse {
                status: Some(HttpStatus {
                    code: i32::from(denial.status),
                }),
                headers: denial
                    .headers
                    .into_iter()
                    .map(|(n, v)| header(n, v))
                    .collect(),
                body: String::from_utf8_lossy(&denial.body).into_owned(),
            };
            CheckResponse {
                status: Some(rpc::Status {
                    code: code as i32,
                    ..rpc::Status::default()
                }),
                http_response: Some(HttpResponse::DeniedResponse(denied)),
                ..CheckResponse::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{identity, CLIENT_HEADER, ROLES_HEADER};
    use crate::gate::{Caller, RequestId};

    fn caller(client: Option<&str>, roles: &[&str]) -> Caller {
        Caller {
            client_ip: None,
            client: client.map(Arc::from),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            rule: None,
            decision: crate::Decision::Allow,
            request_id: RequestId::make(),
        }
    }

    /// A token's client and roles are whatever its issuer wrote: nothing in them may read as
    /// one more value to a service that splits the headers at commas.
    #[test]
    fn identity_headers_hold_one_value_per_name() {
        // (client, roles) given, and the client and roles headers sent.
        type Case<'a> = (
            Option<&'a str>,
            &'a [&'a str],
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: [Case; 6] = [
            (
                Some("billing"),
                &["reader", "writer"],
                Some("billing"),
                Some("reader,writer"),
            ),
            (None, &["auditor"], None, Some("auditor")),
            (Some("a,b"), &[], None, None),
            (None, &["reader", "admin,writer"], None, Some("reader")),
            (None, &["a b", "\"q\"", ""], None, None),
            (Some("svc one"), &["ops"], Some("svc one"), Some("ops")),
        ];
        for (client, roles, want_client, want_roles) in cases {
            let [c, r] = identity(&caller(client, roles));
            assert_eq!(
                c,
                want_client.map(|v| (CLIENT_HEADER, v.to_owned())),
                "{client:?}"
            );
            assert_eq!(
                r,
                want_roles.map(|v| (ROLES_HEADER, v.to_owned())),
                "{roles:?}"
            );
        }
    }
}
