//! Forward-auth and Envoy HTTP checks against an in-process server: the forwarder chain, the
//! conventions and their answers.

use crate::support::{send, start, KEY};

const FWD: [(&str, &str); 0] = [];

/// A forward-auth check in the `X-Forwarded-*` convention.
fn forwarded<'a>(method: &'a str, uri: &'a str, xff: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![
        ("X-Forwarded-Method", method),
        ("X-Forwarded-Uri", uri),
        ("X-Forwarded-Host", "shop.example"),
        ("X-Forwarded-Proto", "https"),
    ];
    if !xff.is_empty() {
        h.push(("X-Forwarded-For", xff));
    }
    h
}

/// The same check in nginx's `X-Original-*` convention.
fn original<'a>(method: &'a str, uri: &'a str, xff: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![
        ("X-Original-Method", method),
        ("X-Original-URI", uri),
        ("X-Forwarded-Host", "shop.example"),
    ];
    if !xff.is_empty() {
        h.push(("X-Forwarded-For", xff));
    }
    h
}

#[test]
fn forwarder_chain_and_answers() {
    let s = start(None);
    struct Row {
        what: &'static str,
        method: &'static str,
        uri: &'static str,
        xff: &'static str,
        extra: &'static [(&'static str, &'static str)],
        forwarded: u16,
        nginx: u16,
    }
    let key: &'static [(&str, &str)] = &[("X-Api-Key", KEY)];
    let rows = [
        Row {
            what: "public",
            method: "GET",
            uri: "/public/a?x=1",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 200,
            nginx: 200,
        },
        Row {
            what: "method is the stated one",
            method: "POST",
            uri: "/public/a",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 403,
            nginx: 403,
        },
        Row {
            what: "default forbid",
            method: "GET",
            uri: "/private",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 403,
            nginx: 403,
        },
        Row {
            what: "404 rule, 403 for nginx",
            method: "GET",
            uri: "/admin/x",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 404,
            nginx: 403,
        },
        Row {
            what: "forwarder saw the office",
            method: "GET",
            uri: "/admin/x",
            xff: "203.0.113.5",
            extra: &FWD,
            forwarded: 200,
            nginx: 200,
        },
        Row {
            what: "a trusted CDN hop beyond the forwarder is walked",
            method: "GET",
            uri: "/admin/x",
            xff: "203.0.113.5, 198.51.100.7",
            extra: &FWD,
            forwarded: 200,
            nginx: 200,
        },
        Row {
            what: "only the entries left of a trusted hop are the client's claims",
            method: "GET",
            uri: "/admin/x",
            xff: "6.6.6.6, 203.0.113.5, 198.51.100.7",
            extra: &FWD,
            forwarded: 200,
            nginx: 200,
        },
        Row {
            what: "a client's own claim does not move it",
            method: "GET",
            uri: "/admin/x",
            xff: "203.0.113.5, 192.0.2.9",
            extra: &FWD,
            forwarded: 404,
            nginx: 403,
        },
        Row {
            what: "no client address",
            method: "GET",
            uri: "/public/a",
            xff: "",
            extra: &FWD,
            forwarded: 403,
            nginx: 403,
        },
        Row {
            what: "a port on the hop",
            method: "GET",
            uri: "/public/a",
            xff: "192.0.2.9:1234",
            extra: &FWD,
            forwarded: 403,
            nginx: 403,
        },
        Row {
            what: "401 without a key",
            method: "GET",
            uri: "/api/orders",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 401,
            nginx: 401,
        },
        Row {
            what: "key",
            method: "GET",
            uri: "/api/orders",
            xff: "192.0.2.9",
            extra: key,
            forwarded: 200,
            nginx: 200,
        },
        Row {
            what: "path trick: encoded slash",
            method: "GET",
            uri: "/public/..%2Fadmin/x",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 400,
            nginx: 403,
        },
        Row {
            what: "path trick: dot segment",
            method: "GET",
            uri: "/public/../admin/x",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 400,
            nginx: 403,
        },
        Row {
            what: "path trick: empty segment",
            method: "GET",
            uri: "/public//x",
            xff: "192.0.2.9",
            extra: &FWD,
            forwarded: 400,
            nginx: 403,
        },
        Row {
            what: "URL override header",
            method: "GET",
            uri: "/public/a",
            xff: "192.0.2.9",
            extra: &[("X-Original-URL", "/admin/x")],
            forwarded: 400,
            nginx: 403,
        },
        Row {
            what: "scraper",
            method: "GET",
            uri: "/public/a",
            xff: "192.0.2.9",
            extra: &[("User-Agent", "scrapy/2")],
            forwarded: 403,
            nginx: 403,
        },
    ];
    for row in &rows {
        for (convention, want) in [("forwarded", row.forwarded), ("nginx", row.nginx)] {
            let mut headers = match convention {
                "forwarded" => forwarded(row.method, row.uri, row.xff),
                _ => original(row.method, row.uri, row.xff),
            };
            headers.extend_from_slice(row.extra);
            let reply = send(s.http, None, "GET", "/check", &headers);
            assert_eq!(reply.status, want, "{} ({convention}): {reply:?}", row.what);
            if want == 401 {
                assert!(reply.header("www-authenticate").is_some(), "{}", row.what);
            }
            if want != 200 {
                // Never the rule name to the client.
                assert!(!reply.body.contains("admin-hidden"), "{}", row.what);
                assert!(reply.header("x-portcullis-client").is_none());
            }
        }
    }
    // The caller's identity goes back for the proxy to copy upstream.
    let mut headers = forwarded("GET", "/api/orders", "192.0.2.9");
    headers.push(("X-Api-Key", KEY));
    let reply = send(s.http, None, "GET", "/check", &headers);
    assert_eq!(reply.header("x-portcullis-client"), Some("billing"));
    assert_eq!(reply.header("x-portcullis-roles"), Some("internal,ops"));
    // Any method of the check itself.
    let reply = send(
        s.http,
        None,
        "HEAD",
        "/check",
        &forwarded("GET", "/public/a", "192.0.2.9"),
    );
    assert_eq!(reply.status, 200);
}

#[test]
fn malformed_statements_are_refused() {
    let s = start(None);
    let cases: &[(&[(&str, &str)], u16)] = &[
        // Nothing stated.
        (&[("X-Forwarded-For", "192.0.2.9")], 400),
        // Two conventions: the client added the one the proxy does not set.
        (
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/public/a"),
                ("X-Original-URI", "/admin/x"),
                ("X-Forwarded-For", "192.0.2.9"),
            ],
            403,
        ),
        (
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/public/a"),
                ("X-Forwarded-Uri", "/admin/x"),
                ("X-Forwarded-For", "192.0.2.9"),
            ],
            400,
        ),
        // An underscore twin of a statement header.
        (
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/public/a"),
                ("X_Forwarded_Uri", "/admin/x"),
                ("X-Forwarded-For", "192.0.2.9"),
            ],
            400,
        ),
    ];
    for (headers, want) in cases {
        let reply = send(s.http, None, "GET", "/check", headers);
        assert_eq!(reply.status, *want, "{headers:?}: {reply:?}");
    }
    assert_eq!(send(s.http, None, "GET", "/other", &[]).status, 404);
}

#[test]
fn envoy_http_service() {
    let s = start(None);
    let xff = [("X-Forwarded-For", "192.0.2.9")];
    let reply = send(s.http, None, "GET", "/envoy/public/a?q=1", &xff);
    assert_eq!(reply.status, 200, "{reply:?}");
    // No client: Envoy is told to drop any the client sent.
    assert_eq!(
        reply.header("x-envoy-auth-headers-to-remove"),
        Some("x-portcullis-client,x-portcullis-roles")
    );
    assert_eq!(
        send(s.http, None, "POST", "/envoy/public/a", &xff).status,
        403
    );
    assert_eq!(
        send(s.http, None, "GET", "/envoy/admin/x", &xff).status,
        404
    );
    assert_eq!(
        send(s.http, None, "GET", "/envoy/public/%2e%2e/admin", &xff).status,
        400
    );
    let reply = send(
        s.http,
        None,
        "GET",
        "/envoy/api/orders",
        &[("X-Forwarded-For", "192.0.2.9"), ("X-Api-Key", KEY)],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-portcullis-client"), Some("billing"));
    assert_eq!(reply.header("x-envoy-auth-headers-to-remove"), None);
    // The host is the original request's own.
    let reply = send(
        s.http,
        None,
        "GET",
        "/envoy/api/orders",
        &[
            ("Host", "other.example"),
            ("X-Forwarded-For", "192.0.2.9"),
            ("X-Api-Key", KEY),
        ],
    );
    assert_eq!(reply.status, 403);
    assert_eq!(
        send(s.http, None, "GET", "/envoyx/public/a", &xff).status,
        404
    );
}

#[test]
fn only_forwarders_may_state_a_request() {
    let s = start(Some("127.0.0.1/32".parse().unwrap()));
    let outsider = Some("127.0.0.2".parse().unwrap());
    let check = forwarded("GET", "/public/a", "192.0.2.9");
    assert_eq!(send(s.http, None, "GET", "/check", &check).status, 200);
    let reply = send(s.http, outsider, "GET", "/check", &check);
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        send(
            s.http,
            outsider,
            "GET",
            "/envoy/public/a",
            &[("X-Forwarded-For", "192.0.2.9")]
        )
        .status,
        403
    );
    // Health and readiness answer anyone; they are never checks.
    let reply = send(s.http, outsider, "GET", "/healthz", &[]);
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok\n"));
    assert_eq!(send(s.http, outsider, "GET", "/readyz", &[]).status, 200);
    s.server.drain();
    assert_eq!(send(s.http, None, "GET", "/readyz", &[]).status, 503);
    // Without a recorder handle there is no metrics page.
    assert_eq!(send(s.http, None, "GET", "/metrics", &[]).status, 404);
}
