//! The original request, rebuilt from what a forwarder stated about it.
//!
//! This is the security-critical part of the server: a check request is the forwarder's
//! account of a request it received, and only the parts the forwarder itself wrote can be
//! believed. Everything here is strict: a statement that could be read two ways is refused.

use std::net::IpAddr;

use http::HeaderMap;

use super::forwarders::ClientAddress;
use crate::engine::client_ip::canonical;
use crate::engine::header_names::twin_eq;
use crate::engine::request::trim_ows;
use crate::Request;

/// How the forwarder stated the original request, which also decides how it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Convention {
    /// `X-Forwarded-Method` and `X-Forwarded-Uri` (Traefik, Caddy, Authelia-style).
    Forwarded,
    /// `X-Original-Method` and `X-Original-URI` (nginx `auth_request`): nginx turns any
    /// status but 2xx, 401 and 403 into a 500, so 400 and 404 are answered 403.
    Original,
    /// Envoy's HTTP ext_authz service: the original path under a prefix.
    EnvoyHttp,
    /// Envoy's gRPC ext_authz service.
    Grpc,
}

impl Convention {
    /// The label used in logs and metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Convention::Forwarded => "forward-auth",
            Convention::Original => "nginx",
            Convention::EnvoyHttp => "envoy-http",
            Convention::Grpc => "grpc",
        }
    }

    /// The status to answer with for a refusal of `status`.
    pub(crate) fn status(self, status: u16) -> u16 {
        match (self, status) {
            (Convention::Original, 400 | 404) => 403,
            _ => status,
        }
    }
}

/// Why a check cannot be put to the policy at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadCheck {
    /// The TCP peer is not a forwarder.
    #[error("the check comes from a peer that is not a forwarder")]
    NotForwarder,
    /// No original method or URI.
    #[error("the check does not state the original method and URI")]
    NoStatement,
    /// Two conventions at once, a repeated statement header, or an underscore twin of one.
    #[error("the check states the original request more than one way")]
    AmbiguousStatement,
    /// The method is not text.
    #[error("the stated method is not text")]
    InvalidMethod,
    /// The original request carries an underscore twin of an identity header
    /// (`X_Portcullis_Client`): a PHP, WSGI or Rack service reads it as the header the proxy
    /// sets from the answer, so the client would choose its own identity.
    #[error("the request carries an underscore twin of an identity header")]
    IdentityTwin,
    /// No client address where the forwarder must put it.
    #[error("the forwarder stated no client address")]
    NoClientAddress,
    /// The client address the forwarder stated is not an address.
    #[error("the client address the forwarder stated is not an address")]
    InvalidClientAddress,
}

impl BadCheck {
    /// The status to refuse with: 403 when the client is unknown or not to be believed,
    /// 400 for a check that is malformed.
    pub(crate) fn status(self) -> u16 {
        match self {
            BadCheck::NotForwarder | BadCheck::NoClientAddress | BadCheck::InvalidClientAddress => {
                403
            }
            _ => 400,
        }
    }

    /// The label used in metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            BadCheck::NotForwarder => "not-forwarder",
            BadCheck::NoStatement => "no-statement",
            BadCheck::AmbiguousStatement => "ambiguous-statement",
            BadCheck::InvalidMethod => "invalid-method",
            BadCheck::IdentityTwin => "identity-twin",
            BadCheck::NoClientAddress => "no-client-address",
            BadCheck::InvalidClientAddress => "invalid-client-address",
        }
    }
}

/// Headers that state the original request or its client: never handed to the policy as
/// headers of the original request, and refused when spelled with underscores.
const STATEMENT: [&str; 7] = [
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-original-method",
    "x-original-uri",
    "x-forwarded-host",
    "x-forwarded-for",
    "x-real-ip",
];

/// Headers that describe the check message, not the original request. `Upgrade` is not
/// among them: forwarders state it only when the original request asked for an upgrade
/// (Caddy and Traefik keep it on the check), and the service then gets the upgrade.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "content-length",
];

/// The headers the answer sets for the proxy to copy upstream.
const IDENTITY: [&str; 2] = [super::answer::CLIENT_HEADER, super::answer::ROLES_HEADER];

/// Whether `name` is an underscore spelling of an identity header (`X_Portcullis_Client`,
/// `X-Portcullis_Roles`): proxies other than nginx pass it through beside the header they
/// overwrite, and CGI-style services read both as one.
pub(super) fn identity_twin(name: &str) -> bool {
    name.contains('_')
        && IDENTITY
            .iter()
            .any(|s| twin_eq(name.as_bytes(), s.as_bytes()))
}

/// The original request of a forward-auth check (`GET /check` with `X-Forwarded-*` or
/// `X-Original-*` headers).
pub(crate) fn forward_auth(
    headers: &HeaderMap,
    client: ClientAddress,
) -> Result<(Request, Convention), BadCheck> {
    refuse_twins(headers)?;
    let forwarded =
        headers.contains_key("x-forwarded-method") || headers.contains_key("x-forwarded-uri");
    let original =
        headers.contains_key("x-original-method") || headers.contains_key("x-original-uri");
    let (convention, method, uri) = match (forwarded, original) {
        (true, false) => (
            Convention::Forwarded,
            "x-forwarded-method",
            "x-forwarded-uri",
        ),
        (false, true) => (Convention::Original, "x-original-method", "x-original-uri"),
        (false, false) => return Err(BadCheck::NoStatement),
        (true, true) => return Err(BadCheck::AmbiguousStatement),
    };
    let method = std::str::from_utf8(single(headers, method)?)
        .map_err(|_| BadCheck::InvalidMethod)?
        .to_owned();
    let target = single(headers, uri)?.to_vec();
    let (peer, forwarded_for) = client_address(headers, client)?;
    let mut request = Request::new(method, target).peer(peer);
    // The host the client asked for, as the forwarder saw it; the check's own `Host` names
    // this server.
    for host in headers.get_all("x-forwarded-host") {
        request = request.header("host", host.as_bytes());
    }
    request = copy_headers(request, headers, client, &forwarded_for, |name| {
        name == "host" || STATEMENT.contains(&name)
    });
    Ok((request, convention))
}

/// The original request of an Envoy HTTP ext_authz check: `prefix` + the original target,
/// with the original method and headers.
pub(crate) fn envoy_http(
    method: &http::Method,
    target: &[u8],
    headers: &HeaderMap,
    client: ClientAddress,
) -> Result<Request, BadCheck> {
    refuse_twins(headers)?;
    let (peer, forwarded_for) = client_address(headers, client)?;
    let request = Request::new(method.as_str(), target.to_vec()).peer(peer);
    Ok(copy_headers(
        request,
        headers,
        client,
        &forwarded_for,
        |name| match client {
            ClientAddress::XForwardedFor => name == "x-forwarded-for",
            ClientAddress::XRealIp => name == "x-real-ip",
        },
    ))
}

/// Every header of the check but the skipped ones and the hop-by-hop ones, in order; the
/// `X-Forwarded-For` entries before the forwarder's own hop go back in their place.
fn copy_headers(
    mut request: Request,
    headers: &HeaderMap,
    client: ClientAddress,
    forwarded_for: &[Vec<u8>],
    skip: impl Fn(&str) -> bool,
) -> Request {
    for (name, value) in headers {
        let name = name.as_str();
        if skip(name) || HOP_BY_HOP.contains(&name) {
            continue;
        }
        request = request.header(name, value.as_bytes());
    }
    if client == ClientAddress::XForwardedFor {
        for line in forwarded_for {
            request = request.header("x-forwarded-for", line.clone());
        }
    }
    if client == ClientAddress::XRealIp {
        // In this mode `X-Forwarded-For` is not the forwarder's: it stays as it came.
        for value in headers.get_all("x-forwarded-for") {
            request = request.header("x-forwarded-for", value.as_bytes());
        }
    }
    request
}

/// The one value of `name`.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h [u8], BadCheck> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(BadCheck::NoStatement)?;
    if values.next().is_some() {
        return Err(BadCheck::AmbiguousStatement);
    }
    Ok(value.as_bytes())
}

/// A statement header spelled with underscores (`X_Original_URI`): a proxy may pass the
/// client's twin through beside its own line, and a backend may read either. The same for
/// the identity headers of the answer.
fn refuse_twins(headers: &HeaderMap) -> Result<(), BadCheck> {
    let twin = headers.keys().any(|name| {
        let name = name.as_str();
        name.contains('_')
            && STATEMENT
                .iter()
                .any(|s| twin_eq(name.as_bytes(), s.as_bytes()))
    });
    if twin {
        return Err(BadCheck::AmbiguousStatement);
    }
    if headers.keys().any(|name| identity_twin(name.as_str())) {
        return Err(BadCheck::IdentityTwin);
    }
    Ok(())
}

/// The address the forwarder saw the client connect from, and the `X-Forwarded-For` lines
/// that remain once the forwarder's own hop is taken off.
fn client_address(
    headers: &HeaderMap,
    client: ClientAddress,
) -> Result<(IpAddr, Vec<Vec<u8>>), BadCheck> {
    match client {
        ClientAddress::XRealIp => {
            let mut values = headers.get_all("x-real-ip").iter();
            let value = values.next().ok_or(BadCheck::NoClientAddress)?;
            if values.next().is_some() {
                return Err(BadCheck::InvalidClientAddress);
            }
            Ok((parse_address(value.as_bytes())?, Vec::new()))
        }
        ClientAddress::XForwardedFor => {
            let lines: Vec<&[u8]> = headers
                .get_all("x-forwarded-for")
                .iter()
                .map(|v| v.as_bytes())
                .collect();
            let (last, before) = lines.split_last().ok_or(BadCheck::NoClientAddress)?;
            let (rest, hop) = match last.iter().rposition(|&b| b == b',') {
                Some(at) => (last.get(..at), last.get(at + 1..).unwrap_or_default()),
                None => (None, *last),
            };
            let peer = parse_address(hop)?;
            let mut remaining: Vec<Vec<u8>> = before.iter().map(|l| l.to_vec()).collect();
            // What lies before the hop stays, even an empty entry (`, 192.0.2.1`), which the
            // policy then refuses if it has to read it, as it would in-process.
            if let Some(rest) = rest {
                remaining.push(trim_ows(rest).to_vec());
            }
            Ok((peer, remaining))
        }
    }
}

/// A bare address, as forwarders write what they saw (`$remote_addr`): no port, no brackets.
pub(super) fn parse_address(value: &[u8]) -> Result<IpAddr, BadCheck> {
    std::str::from_utf8(trim_ows(value))
        .ok()
        .and_then(|s| s.parse::<IpAddr>().ok())
        .map(canonical)
        .ok_or(BadCheck::InvalidClientAddress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AsRequestView;

    fn map(lines: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in lines {
            m.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn headers_of(r: &Request) -> Vec<(String, String)> {
        r.headers()
            .iter()
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    #[test]
    fn nginx_statement() {
        let h = map(&[
            ("host", "portcullis"),
            ("x-original-method", "POST"),
            ("x-original-uri", "/api/x?q=1"),
            ("x-forwarded-host", "shop.example"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-api-key", "k"),
            ("content-length", ""),
        ]);
        let (r, c) = forward_auth(&h, ClientAddress::XForwardedFor).unwrap();
        assert_eq!(c, Convention::Original);
        assert_eq!(r.method(), "POST");
        assert_eq!(r.target(), b"/api/x?q=1");
        assert_eq!(r.peer_addr(), Some("203.0.113.9".parse().unwrap()));
        let want = [
            ("host", "shop.example"),
            ("x-api-key", "k"),
            ("x-forwarded-for", "6.6.6.6"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(headers_of(&r), want);
        assert_eq!(r.view().peer(), r.peer_addr());
    }

    #[test]
    fn forwarded_statement_and_real_ip() {
        let h = map(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/"),
            ("x-forwarded-proto", "https"),
            ("x-real-ip", "::ffff:192.0.2.1"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        let (r, c) = forward_auth(&h, ClientAddress::XRealIp).unwrap();
        assert_eq!(c, Convention::Forwarded);
        assert_eq!(r.peer_addr(), Some("192.0.2.1".parse().unwrap()));
        let names: Vec<_> = r.headers().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-forwarded-proto", "x-forwarded-for"]);
        // The forwarder's hop, without a host: no host line at all.
        let (r, _) = forward_auth(&h, ClientAddress::XForwardedFor).unwrap();
        assert_eq!(r.peer_addr(), Some("198.51.100.1".parse().unwrap()));
        assert!(r
            .headers()
            .iter()
            .all(|(n, _)| n != "host" && n != "x-forwarded-for"));
    }

    #[test]
    fn refusals() {
        let base = [
            ("x-original-method", "GET"),
            ("x-original-uri", "/"),
            ("x-forwarded-for", "192.0.2.1"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut lines = base.to_vec();
            lines.extend_from_slice(extra);
            forward_auth(&map(&lines), ClientAddress::XForwardedFor).map(|_| ())
        };
        assert_eq!(with(&[]), Ok(()));
        let cases: &[(&[(&str, &str)], BadCheck)] = &[
            (
                &[("x-forwarded-uri", "/public")],
                BadCheck::AmbiguousStatement,
            ),
            (&[("x-original-uri", "/b")], BadCheck::AmbiguousStatement),
            (
                &[("x-original-method", "GET")],
                BadCheck::AmbiguousStatement,
            ),
            (
                &[("x_original_uri", "/public")],
                BadCheck::AmbiguousStatement,
            ),
            (
                &[("X_Forwarded_For", "1.2.3.4")],
                BadCheck::AmbiguousStatement,
            ),
            (
                &[("X_Portcullis_Client", "billing")],
                BadCheck::IdentityTwin,
            ),
            (&[("x-portcullis_roles", "admin")], BadCheck::IdentityTwin),
            (
                &[("x-forwarded-for", "1.2.3.4:80")],
                BadCheck::InvalidClientAddress,
            ),
            (
                &[("x-forwarded-for", "1.2.3.4,")],
                BadCheck::InvalidClientAddress,
            ),
        ];
        for (extra, want) in cases {
            assert_eq!(with(extra), Err(*want), "{extra:?}");
        }
        let h = map(&[("x-original-uri", "/"), ("x-forwarded-for", "192.0.2.1")]);
        assert_eq!(
            forward_auth(&h, ClientAddress::XForwardedFor).map(|_| ()),
            Err(BadCheck::NoStatement)
        );
        let h = map(&[("x-original-method", "GET"), ("x-original-uri", "/")]);
        assert_eq!(
            forward_auth(&h, ClientAddress::XForwardedFor).map(|_| ()),
            Err(BadCheck::NoClientAddress)
        );
        assert_eq!(
            forward_auth(&h, ClientAddress::XRealIp).map(|_| ()),
            Err(BadCheck::NoClientAddress)
        );
    }

    #[test]
    fn forwarded_for_keeps_what_lies_beyond_the_hop() {
        let cases: &[(&[&str], &str, &[&str])] = &[
            (&["192.0.2.1"], "192.0.2.1", &[]),
            (&["10.0.0.1, 192.0.2.1"], "192.0.2.1", &["10.0.0.1"]),
            (&["a", "b, c ,192.0.2.1"], "192.0.2.1", &["a", "b, c"]),
            (&[" 2001:db8::1 "], "2001:db8::1", &[]),
            // An empty entry before the hop stays, for the policy to refuse.
            (&[", 192.0.2.1"], "192.0.2.1", &[""]),
        ];
        for (lines, peer, rest) in cases {
            let mut h = vec![("x-forwarded-method", "GET"), ("x-forwarded-uri", "/")];
            h.extend(lines.iter().map(|l| ("x-forwarded-for", *l)));
            let (r, _) = forward_auth(&map(&h), ClientAddress::XForwardedFor).unwrap();
            assert_eq!(r.peer_addr(), Some(peer.parse().unwrap()), "{lines:?}");
            let got: Vec<String> = headers_of(&r)
                .into_iter()
                .filter(|(n, _)| n == "x-forwarded-for")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(got, *rest, "{lines:?}");
        }
    }

    #[test]
    fn answers_in_the_nginx_convention() {
        assert_eq!(Convention::Original.status(404), 403);
        assert_eq!(Convention::Original.status(400), 403);
        assert_eq!(Convention::Original.status(401), 401);
        assert_eq!(Convention::Forwarded.status(404), 404);
        assert_eq!(Convention::Grpc.status(400), 400);
    }
}
