//! One request table, four ways in: the in-process gate, HTTP forward-auth, Envoy's HTTP
//! service and Envoy-shaped gRPC checks must all give the same decision.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use envoy_types::pb::envoy::config::core::v3::{
    address, Address, HeaderMap, HeaderValue, SocketAddress,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
    HttpRequest, Peer, Request as AttributeRequest,
};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest, CheckResponse};
use portcullis::gate::Outcome;
use portcullis::{AsRequestView, Request};
use proptest::prelude::*;
use tonic::transport::{Channel, Endpoint};

use crate::support::{send, start, KEY};

/// One generated original request.
#[derive(Debug, Clone)]
struct Original {
    method: &'static str,
    target: &'static str,
    host: &'static str,
    /// The address the forwarder (nginx, Envoy) saw.
    client: &'static str,
    /// What the client (or a CDN) put in `X-Forwarded-For` before the forwarder's hop.
    beyond: Option<&'static str>,
    key: Option<&'static str>,
    user_agent: Option<&'static str>,
}

impl Original {
    fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut h = Vec::new();
        if let Some(k) = self.key {
            h.push(("x-api-key", k));
        }
        if let Some(ua) = self.user_agent {
            h.push(("user-agent", ua));
        }
        h
    }

    fn forwarded_for(&self) -> String {
        match self.beyond {
            Some(b) => format!("{b}, {}", self.client),
            None => self.client.to_owned(),
        }
    }
}

/// The answer as the proxy sees it: the status and the client it would copy upstream.
type Seen = (u16, Option<String>);

fn in_process(s: &crate::support::Running, o: &Original) -> Seen {
    let mut r = Request::new(o.method, o.target)
        .peer(o.client.parse().unwrap())
        .header("host", o.host);
    if let Some(b) = o.beyond {
        r = r.header("x-forwarded-for", b);
    }
    for (n, v) in o.headers() {
        r = r.header(n, v);
    }
    match s.server.gate().check(&r.view()) {
        Outcome::Pass(caller) => (200, caller.client.map(|c| c.to_string())),
        Outcome::Deny(d) => (d.status, None),
    }
}

fn forward_auth(s: &crate::support::Running, o: &Original) -> Seen {
    let xff = o.forwarded_for();
    let mut h = vec![
        ("X-Forwarded-Method", o.method),
        ("X-Forwarded-Uri", o.target),
        ("X-Forwarded-Host", o.host),
        ("X-Forwarded-For", xff.as_str()),
    ];
    h.extend(o.headers());
    let reply = send(s.http, None, "GET", "/check", &h);
    // No client is sent as an empty header in the forward-auth conventions.
    let client = reply
        .header("x-portcullis-client")
        .filter(|c| !c.is_empty());
    (reply.status, client.map(str::to_owned))
}

fn envoy_http(s: &crate::support::Running, o: &Original) -> Seen {
    let xff = o.forwarded_for();
    let target = format!("/envoy{}", o.target);
    let mut h = vec![("Host", o.host), ("X-Forwarded-For", xff.as_str())];
    h.extend(o.headers());
    let reply = send(s.http, None, o.method, &target, &h);
    (
        reply.status,
        reply.header("x-portcullis-client").map(str::to_owned),
    )
}

/// A `CheckRequest` as Envoy builds one (with `use_remote_address`, Envoy has appended the
/// client to `x-forwarded-for`).
fn check_request(o: &Original) -> CheckRequest {
    let mut headers: HashMap<String, String> = HashMap::new();
    headers.insert(":authority".into(), o.host.into());
    headers.insert(":method".into(), o.method.into());
    headers.insert(":path".into(), o.target.into());
    headers.insert("x-forwarded-for".into(), o.forwarded_for());
    for (n, v) in o.headers() {
        headers.insert(n.into(), v.into());
    }
    let query = o.target.split_once('?').map_or("", |(_, q)| q);
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: o.client.into(),
                        ..SocketAddress::default()
                    })),
                }),
                ..Peer::default()
            }),
            request: Some(AttributeRequest {
                http: Some(HttpRequest {
                    method: o.method.into(),
                    path: o.target.into(),
                    host: o.host.into(),
                    scheme: "https".into(),
                    query: query.into(),
                    protocol: "HTTP/1.1".into(),
                    headers,
                    ..HttpRequest::default()
                }),
                ..AttributeRequest::default()
            }),
            ..AttributeContext::default()
        }),
    }
}

fn grpc_seen(response: &CheckResponse) -> Seen {
    let code = response.status.as_ref().map_or(-1, |s| s.code);
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) if code == 0 => {
            let client = ok
                .headers
                .iter()
                .filter_map(|h| h.header.as_ref())
                .find(|h| h.key == "x-portcullis-client")
                .map(|h| h.value.clone());
            (200, client)
        }
        Some(HttpResponse::DeniedResponse(denied)) => {
            let status = denied.status.as_ref().map_or(0, |s| s.code) as u16;
            // PERMISSION_DENIED, or UNAUTHENTICATED for 401.
            let want = if status == 401 { 16 } else { 7 };
            assert_eq!(code, want, "{response:?}");
            (status, None)
        }
        _ => panic!("not an Envoy answer: {response:?}"),
    }
}

async fn client(addr: SocketAddr, from: Option<IpAddr>) -> AuthorizationClient<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = match from {
        None => endpoint.connect().await.unwrap(),
        Some(ip) => endpoint
            .connect_with_connector(tower::service_fn(move |_: http::Uri| async move {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::new(ip, 0))?;
                let stream = socket.connect(addr).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }))
            .await
            .unwrap(),
    };
    AuthorizationClient::new(channel)
}

fn original() -> impl Strategy<Value = Original> {
    (
        prop::sample::select(vec!["GET", "POST", "HEAD", "DELETE"]),
        prop::sample::select(vec![
            "/public/a",
            "/public/a?x=1",
            "/private",
            "/admin/x",
            "/api/orders",
            "/api/orders?id=7",
            "/public/..%2Fadmin",
            "/public/../admin",
            "/public//a",
            "/public/%61",
        ]),
        prop::sample::select(vec!["shop.example", "other.example", "SHOP.example"]),
        prop::sample::select(vec![
            "192.0.2.9",
            "203.0.113.5",
            "198.51.100.7",
            "2001:db8::9",
        ]),
        prop::option::of(prop::sample::select(vec![
            "203.0.113.9",
            "192.0.2.77",
            "garbage",
        ])),
        prop::option::of(prop::sample::select(vec![KEY, "wrong-key"])),
        prop::option::of(prop::sample::select(vec!["curl/8", "scrapy/2"])),
    )
        .prop_map(
            |(method, target, host, client, beyond, key, user_agent)| Original {
                method,
                target,
                host,
                client,
                beyond,
                key,
                user_agent,
            },
        )
}

#[test]
fn every_protocol_decides_alike() {
    let s = start(None);
    let grpc = s.runtime.block_on(client(s.grpc, None));
    let statuses = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(o in original())| {
        let want = in_process(&s, &o);
        statuses.borrow_mut().insert(want.0);
        prop_assert_eq!(&forward_auth(&s, &o), &want, "forward-auth");
        prop_assert_eq!(&envoy_http(&s, &o), &want, "envoy http");
        let response = s
            .runtime
            .block_on(grpc.clone().check(check_request(&o)))
            .unwrap()
            .into_inner();
        prop_assert_eq!(&grpc_seen(&response), &want, "grpc");
    });
    // The table reaches allow and each kind of refusal.
    let statuses = statuses.into_inner();
    for status in [200, 400, 401, 403, 404] {
        assert!(
            statuses.contains(&status),
            "no case answered {status}: {statuses:?}"
        );
    }
}

#[test]
fn grpc_answers_for_envoy() {
    let s = start(Some("127.0.0.1/32".parse().unwrap()));
    let o = Original {
        method: "GET",
        target: "/api/orders",
        host: "shop.example",
        client: "192.0.2.9",
        beyond: None,
        key: None,
        user_agent: None,
    };
    let mut c = s.runtime.block_on(client(s.grpc, None));
    let check = |c: &mut AuthorizationClient<Channel>, o: &Original| {
        s.runtime
            .block_on(c.check(check_request(o)))
            .unwrap()
            .into_inner()
    };
    // 401: UNAUTHENTICATED with WWW-Authenticate and a short body.
    let r = check(&mut c, &o);
    assert_eq!(r.status.as_ref().unwrap().code, 16);
    let Some(HttpResponse::DeniedResponse(d)) = &r.http_response else {
        panic!("{r:?}")
    };
    assert_eq!(d.status.as_ref().unwrap().code, 401);
    assert!(d
        .headers
        .iter()
        .any(|h| h.header.as_ref().unwrap().key == "www-authenticate"));
    assert!(!d.body.is_empty() && !d.body.contains("api-needs-key"));
    // Allowed with a key: the identity headers overwrite whatever the client sent.
    let r = check(
        &mut c,
        &Original {
            key: Some(KEY),
            ..o.clone()
        },
    );
    let Some(HttpResponse::OkResponse(ok)) = &r.http_response else {
        panic!("{r:?}")
    };
    let set: Vec<(&str, &str)> = ok
        .headers
        .iter()
        .map(|h| {
            let hv = h.header.as_ref().unwrap();
            (hv.key.as_str(), hv.value.as_str())
        })
        .collect();
    assert_eq!(
        set,
        [
            ("x-portcullis-client", "billing"),
            ("x-portcullis-roles", "internal,ops")
        ]
    );
    // Allowed without a client: the identity headers are removed.
    let r = check(
        &mut c,
        &Original {
            target: "/public/a",
            ..o.clone()
        },
    );
    let Some(HttpResponse::OkResponse(ok)) = &r.http_response else {
        panic!("{r:?}")
    };
    assert_eq!(
        ok.headers_to_remove,
        ["x-portcullis-client", "x-portcullis-roles"]
    );
    // Raw headers (`encode_raw_headers`): repeated lines stay apart, so two different keys
    // are seen as two, and refused.
    let mut raw = check_request(&Original {
        key: Some(KEY),
        ..o.clone()
    });
    if let Some(http) = raw
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
    {
        http.headers.clear();
        let line = |key: &str, value: &[u8]| HeaderValue {
            key: key.into(),
            raw_value: value.to_vec(),
            ..HeaderValue::default()
        };
        http.header_map = Some(HeaderMap {
            headers: vec![
                line("x-api-key", KEY.as_bytes()),
                line("X-Api-Key", b"other-key"),
            ],
        });
    }
    let r = s
        .runtime
        .block_on(c.check(raw.clone()))
        .unwrap()
        .into_inner();
    let Some(HttpResponse::DeniedResponse(d)) = &r.http_response else {
        panic!("{r:?}")
    };
    assert_eq!(d.status.as_ref().unwrap().code, 400);
    if let Some(map) = raw
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
        .and_then(|h| h.header_map.as_mut())
    {
        map.headers.pop();
    }
    let r = s.runtime.block_on(c.check(raw)).unwrap().into_inner();
    assert_eq!(grpc_seen(&r), (200, Some("billing".to_owned())));
    // A check without attributes is denied, not an error (Envoy may fail open on errors).
    let r = s
        .runtime
        .block_on(c.check(CheckRequest::default()))
        .unwrap()
        .into_inner();
    assert_eq!(r.status.as_ref().unwrap().code, 7);

    // From a peer that is not a forwarder: refused whatever it states.
    let mut outsider = s
        .runtime
        .block_on(client(s.grpc, Some("127.0.0.2".parse().unwrap())));
    let r = check(
        &mut outsider,
        &Original {
            target: "/public/a",
            ..o.clone()
        },
    );
    assert_eq!(r.status.as_ref().unwrap().code, 7, "{r:?}");
    let Some(HttpResponse::DeniedResponse(d)) = &r.http_response else {
        panic!("{r:?}")
    };
    assert_eq!(d.status.as_ref().unwrap().code, 403);
}
