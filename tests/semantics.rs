//! The documented semantics, one table per feature.

use std::net::IpAddr;

use portcullis::{Cause, Decision, Engine, Format, Policy, Refusal, Request, UnknownClient};

fn engine(text: &str) -> Engine {
    match Policy::from_toml(text).and_then(|p| p.compile()) {
        Ok(e) => e,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The deciding rule's name, "default", or "refused: <reason>", with the decision.
fn outcome(engine: &Engine, request: &Request) -> (Decision, String) {
    let v = engine.decide(request);
    let what = match v.cause() {
        Cause::Rule(id) => engine.rule(id).unwrap().name().to_owned(),
        Cause::Default => "default".to_owned(),
        Cause::Refused(r) => format!("refused: {r}"),
    };
    (v.decision(), what)
}

use Decision::{Allow, Forbidden};

/// Header lines of a table row.
type Headers = &'static [(&'static str, &'static str)];
/// Header lines with raw byte values.
type RawHeaders = &'static [(&'static str, &'static [u8])];
/// The expected decision and the rule (or "default", or "refused: ...").
type Want = (Decision, &'static str);

#[test]
fn first_match_and_forbid_overrides() {
    let rules = r#"
        [[rules]]
        name = "api"
        effect = "allow"
        when = { path = ["/api/**"] }
        [[rules]]
        name = "no-delete"
        effect = "forbid"
        when = { method = ["DELETE"] }
        [[rules]]
        name = "also-api"
        effect = "allow"
        when = { path = ["/api/v2/**"] }
    "#;
    let first = engine(&format!("[policy]\ndefault = \"forbid\"\n{rules}"));
    let over = engine(&format!(
        "[policy]\ndefault = \"forbid\"\ncombine = \"forbid-overrides\"\n{rules}"
    ));
    let peer = ip("192.0.2.1");
    let cases = [
        (
            Request::new("DELETE", "/api/x"),
            (Allow, "api"),
            (Forbidden, "no-delete"),
        ),
        (Request::get("/api/v2/x"), (Allow, "api"), (Allow, "api")),
        (
            Request::new("DELETE", "/other"),
            (Forbidden, "no-delete"),
            (Forbidden, "no-delete"),
        ),
        (
            Request::get("/other"),
            (Forbidden, "default"),
            (Forbidden, "default"),
        ),
    ];
    for (req, want_first, want_over) in cases {
        let req = req.peer(peer);
        assert_eq!(
            outcome(&first, &req),
            (want_first.0, want_first.1.to_owned()),
            "{req:?}"
        );
        assert_eq!(
            outcome(&over, &req),
            (want_over.0, want_over.1.to_owned()),
            "{req:?}"
        );
    }
}

#[test]
fn methods() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [[rules]]
        name = "read-only"
        effect = "forbid"
        when = { path = ["/ro/**"] }
        unless = { method = ["GET", "OPTIONS"] }
        [[rules]]
        name = "no-put"
        effect = "forbid"
        when = { method = ["put"] }
    "#,
    );
    let peer = ip("192.0.2.1");
    let cases: &[(&str, &str, Headers, Want)] = &[
        ("GET", "/ro/x", &[], (Allow, "default")),
        // GET covers HEAD.
        ("HEAD", "/ro/x", &[], (Allow, "default")),
        ("POST", "/ro/x", &[], (Forbidden, "read-only")),
        // Case variants cannot escape a forbid rule, and policy methods are upper-cased too.
        ("put", "/x", &[], (Forbidden, "no-put")),
        ("pUt", "/x", &[], (Forbidden, "no-put")),
        ("get", "/ro/x", &[], (Allow, "default")),
        // A method override is allowed only if both methods are.
        (
            "GET",
            "/ro/x",
            &[("X-HTTP-Method-Override", "DELETE")],
            (Forbidden, "read-only"),
        ),
        (
            "GET",
            "/ro/x",
            &[("X-HTTP-Method", "delete")],
            (Forbidden, "read-only"),
        ),
        (
            "GET",
            "/ro/x",
            &[("X-Method-Override", "OPTIONS")],
            (Allow, "default"),
        ),
        (
            "POST",
            "/x",
            &[("X-HTTP-Method-Override", "PUT")],
            (Forbidden, "no-put"),
        ),
        (
            "GET",
            "/x",
            &[("X-HTTP-Method-Override", "GET, PUT")],
            (Forbidden, "refused: a method-override header is invalid"),
        ),
        (
            "GE T",
            "/x",
            &[],
            (Forbidden, "refused: the method is not a valid token"),
        ),
        // `_method` in the query, decoded as backends decode it.
        ("POST", "/x?_method=PUT", &[], (Forbidden, "no-put")),
        ("POST", "/x?_method=P%55T", &[], (Forbidden, "no-put")),
        ("POST", "/x?%5Fmethod=put", &[], (Forbidden, "no-put")),
        (
            "POST",
            "/x?a=1&_method=%zz",
            &[],
            (Forbidden, "refused: a method-override header is invalid"),
        ),
        ("POST", "/x?_methods=PUT", &[], (Allow, "default")),
    ];
    for (method, target, headers, want) in cases {
        let mut req = Request::new(*method, *target).peer(peer);
        for (n, v) in *headers {
            req = req.header(*n, *v);
        }
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{method} {target} {headers:?}"
        );
    }
}

#[test]
fn hosts() {
    let e = engine(
        r#"
        [policy]
        default = "forbid"
        [[rules]]
        name = "api-host"
        effect = "allow"
        when = { host = ["api.example.com", "*.internal"] }
    "#,
    );
    let peer = ip("192.0.2.1");
    let cases: &[(&str, &[&str], Want)] = &[
        ("/", &["api.example.com"], (Allow, "api-host")),
        ("/", &["API.Example.COM"], (Allow, "api-host")),
        ("/", &["api.example.com:8443"], (Allow, "api-host")),
        ("/", &["api.example.com."], (Allow, "api-host")),
        ("/", &["db.internal"], (Allow, "api-host")),
        ("/", &["example.com"], (Forbidden, "default")),
        // No host: the framework would fill one in, so the request is ambiguous.
        ("/", &[], (Forbidden, "refused: the request names no host")),
        (
            "/",
            &[""],
            (Forbidden, "refused: the request names no host"),
        ),
        ("http://api.example.com/x", &[], (Allow, "api-host")),
        (
            "http://api.example.com/x",
            &["API.example.com:80"],
            (Allow, "api-host"),
        ),
        (
            "http://api.example.com/x",
            &["evil.com"],
            (Forbidden, "refused: the request names more than one host"),
        ),
        (
            "/",
            &["api.example.com", "evil.com"],
            (Forbidden, "refused: the request names more than one host"),
        ),
        (
            "/",
            &["api.example.com/x"],
            (Forbidden, "refused: the host is not a valid host name"),
        ),
    ];
    for (target, hosts, want) in cases {
        let mut req = Request::get(*target).peer(peer);
        for h in *hosts {
            req = req.header("Host", *h);
        }
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{target} {hosts:?}"
        );
    }
}

#[test]
fn headers_and_user_agents() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [[rules]]
        name = "prod-only-from-ci"
        effect = "allow"
        when = { header = { x-env = ["prod", { glob = "prod-*" }], x-ci = { present = true } } }
        [[rules]]
        name = "no-prod"
        effect = "forbid"
        when = { header = { x-env = { regex = "pro?d.*" } } }
        [[rules]]
        name = "no-curl"
        effect = "forbid"
        when = { user_agent = ["*curl*"] }
        [[rules]]
        name = "no-debug"
        effect = "forbid"
        when = { header = { x-debug = { absent = true }, x-trace = { present = true } } }
    "#,
    );
    let peer = ip("192.0.2.1");
    let cases: &[(RawHeaders, Want)] = &[
        (
            &[("X-Env", b"prod"), ("X-CI", b"1")],
            (Allow, "prod-only-from-ci"),
        ),
        (
            &[("x-env", b"  prod-eu "), ("x-ci", b"")],
            (Allow, "prod-only-from-ci"),
        ),
        (&[("x-env", b"prod")], (Forbidden, "no-prod")),
        (&[("x-env", b"prd")], (Forbidden, "no-prod")),
        (&[("x-env", b"dev")], (Allow, "default")),
        // Every value of a repeated header counts: an allow rule needs all of them to match,
        // a forbid rule any of them.
        (
            &[("x-env", b"prod"), ("x-env", b"dev"), ("x-ci", b"1")],
            (Forbidden, "no-prod"),
        ),
        (
            &[("x-env", b"dev"), ("x-env", b"prod")],
            (Forbidden, "no-prod"),
        ),
        // A value that is not text, or holds control characters, never makes a forbid
        // condition silently not apply, nor an allow condition apply.
        (
            &[("x-env", b"\xffprod"), ("x-ci", b"1")],
            (Forbidden, "no-prod"),
        ),
        (
            &[("x-env", b"pr\x01od"), ("x-ci", b"1")],
            (Forbidden, "no-prod"),
        ),
        (&[("user-agent", b"curl/8.4")], (Forbidden, "no-curl")),
        (
            &[("user-agent", b"Mozilla/5.0 CURL")],
            (Forbidden, "no-curl"),
        ),
        (
            &[("user-agent", b"Mozilla/5.0"), ("user-agent", b"curl/8")],
            (Forbidden, "no-curl"),
        ),
        (&[("user-agent", b"\xc3\x28curl")], (Forbidden, "no-curl")),
        (&[("user-agent", b"Mozilla/5.0")], (Allow, "default")),
        (&[("x-trace", b"1")], (Forbidden, "no-debug")),
        (&[("x-trace", b"1"), ("x-debug", b"1")], (Allow, "default")),
    ];
    for (headers, want) in cases {
        let mut req = Request::get("/").peer(peer);
        for (n, v) in *headers {
            req = req.header(*n, v.to_vec());
        }
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{headers:?}"
        );
    }
}

const KEYS: &str = r#"
[policy]
default = "forbid"
[keys]
header = "X-Api-Key"
[keys.clients.billing]
sha256 = ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"] # "abc"
roles = ["internal"]
[keys.clients.acme]
sha256 = ["88D4266FD4E6338D13B845FCF289579D209C897823B9217DA3E161936F031589", "f42546d5ecdd452509808b2d6d0413b5a738c70a793b99ccf8ed6f423aac83d3"] # "abcd", "rotated"
roles = ["partner"]
[[rules]]
name = "anonymous-health"
effect = "allow"
when = { path = ["/health"], authenticated = false }
[[rules]]
name = "billing-only"
effect = "allow"
when = { path = ["/billing/**"], client = ["billing"] }
[[rules]]
name = "partners"
effect = "allow"
when = { path = ["/api/**"], role = ["partner", "internal"] }
"#;

#[test]
fn api_keys() {
    let e = engine(KEYS);
    let peer = ip("192.0.2.1");
    let cases: &[(&str, Headers, Want)] = &[
        (
            "/billing/x",
            &[("x-api-key", "abc")],
            (Allow, "billing-only"),
        ),
        (
            "/billing/x",
            &[("authorization", "Bearer abc")],
            (Allow, "billing-only"),
        ),
        (
            "/billing/x",
            &[("authorization", "bearer abc")],
            (Allow, "billing-only"),
        ),
        (
            "/billing/x",
            &[("x-api-key", "ABC")],
            (Forbidden, "default"),
        ),
        (
            "/billing/x",
            &[("x-api-key", "abcd")],
            (Forbidden, "default"),
        ),
        ("/api/x", &[("x-api-key", "abcd")], (Allow, "partners")),
        ("/api/x", &[("x-api-key", "rotated")], (Allow, "partners")),
        ("/api/x", &[("x-api-key", "abc")], (Allow, "partners")),
        ("/api/x", &[("x-api-key", "wrong")], (Forbidden, "default")),
        ("/health", &[], (Allow, "anonymous-health")),
        (
            "/health",
            &[("x-api-key", "wrong")],
            (Allow, "anonymous-health"),
        ),
        ("/health", &[("x-api-key", "abc")], (Forbidden, "default")),
        (
            "/api/x",
            &[("x-api-key", "abc"), ("authorization", "Bearer abc")],
            (Allow, "partners"),
        ),
        (
            "/api/x",
            &[("x-api-key", "abc"), ("authorization", "Bearer abcd")],
            (
                Forbidden,
                "refused: the request carries more than one API key",
            ),
        ),
        (
            "/api/x",
            &[("x-api-key", "abc"), ("x-api-key", "abcd")],
            (
                Forbidden,
                "refused: the request carries more than one API key",
            ),
        ),
    ];
    for (target, headers, want) in cases {
        let mut req = Request::get(*target).peer(peer);
        for (n, v) in *headers {
            req = req.header(*n, *v);
        }
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{target} {headers:?}"
        );
    }
}

#[test]
fn keys_never_appear_in_explanations() {
    let e = engine(&KEYS.replace(
        "[[rules]]\nname = \"anonymous-health\"",
        "[[rules]]\nname = \"needs-auth-header\"\neffect = \"forbid\"\nwhen = { header = { authorization = { absent = true }, x-api-key = { present = true } } }\n[[rules]]\nname = \"anonymous-health\"",
    ));
    let peer = ip("192.0.2.1");
    for (name, value) in [
        ("x-api-key", "abc"),
        ("x-api-key", "sup3r-s3cret"),
        ("authorization", "Bearer sup3r-s3cret"),
    ] {
        let req = Request::get("/billing/x").peer(peer).header(name, value);
        let text = e.explain(&req).to_string();
        let json = serde_json::to_string(&e.explain(&req)).unwrap();
        let secret = value.trim_start_matches("Bearer ");
        assert!(!text.contains(secret), "{text}");
        assert!(!json.contains(secret), "{json}");
    }
    let text = e
        .explain(
            &Request::get("/api/x")
                .peer(peer)
                .header("x-api-key", "sup3r-s3cret"),
        )
        .to_string();
    assert!(
        text.contains("an API key was presented but matches no client"),
        "{text}"
    );
    let text = e
        .explain(&Request::get("/x").peer(peer).header("x-api-key", "s3cret"))
        .to_string();
    assert!(
        text.contains("(redacted)") && !text.contains("s3cret"),
        "{text}"
    );
}

#[test]
fn client_addresses() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [client_ip]
        source = "x-forwarded-for"
        trusted_proxies = ["10.0.0.0/8", "::1"]
        [lists]
        bad = ["192.0.2.0/24", "2001:db8:bad::/48"]
        [[rules]]
        name = "blocked"
        effect = "forbid"
        when = { ip = ["@bad"] }
    "#,
    );
    let xff = "x-forwarded-for";
    let cases: &[(&str, &[&str], Want)] = &[
        ("10.0.0.1", &["192.0.2.5"], (Forbidden, "blocked")),
        ("::1", &["192.0.2.5"], (Forbidden, "blocked")),
        ("::ffff:10.0.0.1", &["2001:db8:bad::1"], (Forbidden, "blocked")),
        ("::ffff:192.0.2.9", &[], (Forbidden, "blocked")),
        // An untrusted peer's header is ignored: the peer is the client.
        ("198.51.100.1", &["10.0.0.9"], (Allow, "default")),
        ("192.0.2.1", &["198.51.100.1"], (Forbidden, "blocked")),
        // Hops left of the first untrusted one are the client's own claims.
        ("10.0.0.1", &["192.0.2.5, 198.51.100.1"], (Allow, "default")),
        ("10.0.0.1", &["198.51.100.1, 192.0.2.5, 10.0.0.2"], (Forbidden, "blocked")),
        ("10.0.0.1", &["192.0.2.5", "10.0.0.2"], (Forbidden, "blocked")),
        // An unreadable hop that must be read makes the client unknown: forbidden.
        ("10.0.0.1", &["192.0.2.5, 010.0.0.1"], (Forbidden, "refused: the client address is unknown: a forwarding-header entry is not a valid address")),
        ("10.0.0.1", &["198.51.100.1, bogus"], (Forbidden, "refused: the client address is unknown: a forwarding-header entry is not a valid address")),
    ];
    for (peer, headers, want) in cases {
        let mut req = Request::get("/").peer(ip(peer));
        for h in *headers {
            req = req.header(xff, *h);
        }
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{peer} {headers:?}"
        );
    }
    let v = e.decide(&Request::get("/"));
    assert_eq!(
        v.cause(),
        Cause::Refused(Refusal::UnknownClient(UnknownClient::NoPeer))
    );
    assert_eq!(v.status(), 403);
}

#[test]
fn unknown_clients_can_be_evaluated_pessimistically() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [client_ip]
        source = "x-real-ip"
        trusted_proxies = ["10.0.0.0/8"]
        on_unknown = "evaluate"
        [[rules]]
        name = "office-admin"
        effect = "allow"
        when = { path = ["/admin/**"], ip = ["203.0.113.0/24"] }
        [[rules]]
        name = "no-admin"
        effect = "forbid"
        when = { path = ["/admin/**"] }
        [[rules]]
        name = "blocked"
        effect = "forbid"
        when = { ip = ["192.0.2.0/24"] }
    "#,
    );
    let peer = ip("10.0.0.1");
    let unknown = |t: &str| Request::get(t).peer(peer).header("x-real-ip", "garbage");
    // An unknown client is never granted anything by an ip condition...
    assert_eq!(
        outcome(&e, &unknown("/admin/x")),
        (Forbidden, "no-admin".to_owned())
    );
    // ... and a forbid rule on addresses holds for it.
    assert_eq!(
        outcome(&e, &unknown("/public")),
        (Forbidden, "blocked".to_owned())
    );
    let known = Request::get("/admin/x")
        .peer(peer)
        .header("x-real-ip", "203.0.113.7");
    assert_eq!(outcome(&e, &known), (Allow, "office-admin".to_owned()));
    // No peer at all is refused even here: that is a misconfigured adapter.
    assert_eq!(
        e.decide(&Request::get("/public")).cause(),
        Cause::Refused(Refusal::UnknownClient(UnknownClient::NoPeer))
    );
}

#[test]
fn report_mode() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [[rules]]
        name = "watch-scrapers"
        effect = "forbid"
        mode = "report"
        status = 404
        when = { user_agent = ["*bot*"] }
        [[rules]]
        name = "no-admin"
        effect = "forbid"
        when = { path = ["/admin/**"] }
    "#,
    );
    let peer = ip("192.0.2.1");
    let v = e.decide(
        &Request::get("/x")
            .peer(peer)
            .header("user-agent", "somebot"),
    );
    assert!(v.is_allowed() && v.enforced() && !v.blocks());
    let reported: Vec<_> = v
        .reported()
        .iter()
        .map(|id| e.rule(id).unwrap().name())
        .collect();
    assert_eq!(reported, ["watch-scrapers"]);
    let text = e
        .explain(
            &Request::get("/x")
                .peer(peer)
                .header("user-agent", "somebot"),
        )
        .to_string();
    assert!(
        text.ends_with(r#"report-mode rule "watch-scrapers" (<policy>:4:9) would forbid"#),
        "{text}"
    );

    let v = e.decide(
        &Request::get("/admin")
            .peer(peer)
            .header("user-agent", "somebot"),
    );
    assert_eq!(v.decision(), Forbidden);
    assert_eq!(v.reported().iter().count(), 1);

    let whole = engine(
        r#"
        [policy]
        default = "forbid"
        mode = "report"
    "#,
    );
    let v = whole.decide(&Request::get("/x").peer(peer));
    assert_eq!(v.decision(), Forbidden);
    assert!(!v.enforced() && !v.blocks());
    assert!(whole
        .explain(&Request::get("/x").peer(peer))
        .to_string()
        .ends_with("[policy in report mode: not enforced]"));
}

#[test]
fn status_hints() {
    let e = engine(
        r#"
        [policy]
        default = "forbid"
        [[rules]]
        name = "hidden"
        effect = "forbid"
        status = 404
        when = { path = ["/secret/**"] }
        [[rules]]
        name = "login"
        effect = "forbid"
        status = 401
        when = { path = ["/private/**"], authenticated = false }
        [[rules]]
        name = "ok"
        effect = "allow"
        when = { path = ["/ok"] }
    "#,
    );
    let peer = ip("192.0.2.1");
    let status = |t: &str| e.decide(&Request::get(t).peer(peer)).status();
    assert_eq!(status("/secret/x"), 404);
    assert_eq!(status("/private/x"), 401);
    assert_eq!(status("/ok"), 200);
    assert_eq!(status("/nothing"), 403);
    assert_eq!(status("/a/../ok"), 400);
}

#[test]
fn explanations_read_as_one_line() {
    let e = engine(
        r#"
        [policy]
        default = "forbid"
        [lists]
        office = ["203.0.113.0/24"]
        [[rules]]
        name = "admin-from-office"
        effect = "allow"
        when = { path = ["/admin/**"], ip = ["@office", "198.51.100.0/24"], method = ["GET"] }
    "#,
    );
    let cases = [
        (
            Request::get("/admin/users").peer(ip("203.0.113.9")),
            r#"allowed by rule "admin-from-office" (<policy>:6:9): client 203.0.113.9 is in list "office"; path "/admin/users" matched "/admin/**"; method "GET" matched "GET""#,
        ),
        (
            Request::get("/admin").peer(ip("198.51.100.9")),
            r#"allowed by rule "admin-from-office" (<policy>:6:9): client 198.51.100.9 is in "198.51.100.0/24"; path "/admin" matched "/admin/**"; method "GET" matched "GET""#,
        ),
        (
            Request::new("DELETE", "/admin/users").peer(ip("192.0.2.1")),
            r#"forbidden by default (forbid): no rule applied; nearest rule "admin-from-office" (<policy>:6:9) met 1 of 3 conditions: client 192.0.2.1 is not in any of list "office", "198.51.100.0/24"; method "DELETE" did not match "GET""#,
        ),
        (
            Request::get("/admin/../x").peer(ip("192.0.2.1")),
            "forbidden (400) before any rule: the path holds a dot segment",
        ),
    ];
    for (req, want) in cases {
        assert_eq!(e.explain(&req).to_string(), want);
    }
}

#[cfg(feature = "json")]
#[test]
fn json_policies_compile_to_the_same_engine() {
    let text = r#"{
        "policy": { "default": "forbid" },
        "lists": { "office": ["203.0.113.0/24"] },
        "rules": [
            { "name": "office", "effect": "allow", "when": { "ip": ["@office"] } },
            { "name": "typo", "effect": "allow", "when": { "paths": ["/x"] } }
        ]
    }"#;
    let err = Policy::parse("p.json", text.into(), Format::Json).unwrap_err();
    assert!(err.to_string().starts_with("p.json:6:"), "{err}");
    assert!(err.to_string().contains("unknown field `paths`"), "{err}");
    let text = text
        .replace("\"paths\"", "\"path\"")
        .replace("10.1.2.3", "");
    let e = Policy::parse("p.json", text.clone(), Format::Json)
        .unwrap()
        .compile()
        .unwrap();
    assert!(e
        .decide(&Request::get("/").peer(ip("203.0.113.1")))
        .is_allowed());
    let bad = text.replace("203.0.113.0/24", "203.0.113.1/24");
    let err = Policy::parse("p.json", bad, Format::Json)
        .unwrap()
        .compile()
        .unwrap_err();
    assert!(err.to_string().starts_with("p.json:3:"), "{err}");
}

#[cfg(feature = "yaml")]
#[test]
fn yaml_policies_compile_to_the_same_engine() {
    let text = "policy:\n  default: forbid\nrules:\n  - name: office\n    effect: allow\n    when:\n      ip: [203.0.113.0/24]\n  - name: other\n    effect: allow\n    when:\n      paths: [/x]\n";
    let err = Policy::parse("p.yaml", text.into(), Format::Yaml).unwrap_err();
    assert!(err.to_string().contains("unknown field `paths`"), "{err}");
    assert_eq!(err.location().map(|l| l.line), Some(11), "{err}");
    let text = text.replace("paths", "path");
    let e = Policy::parse("p.yaml", text.clone(), Format::Yaml)
        .unwrap()
        .compile()
        .unwrap();
    assert!(e
        .decide(&Request::get("/").peer(ip("203.0.113.1")))
        .is_allowed());
    let bad = text.replace("/x", "x");
    let err = Policy::parse("p.yaml", bad, Format::Yaml)
        .unwrap()
        .compile()
        .unwrap_err();
    assert_eq!(err.location().map(|l| l.line), Some(11), "{err}");
    assert_eq!(err.rule(), Some("other"));
}

#[test]
fn the_example_policy_compiles() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy.toml");
    let e = Policy::from_path(path).unwrap().compile().unwrap();
    assert!(e.rules().len() >= 5);
    assert_eq!(
        e.lists().find(|(n, _)| *n == "blocklist").map(|(_, n)| n),
        Some(3)
    );
}

#[test]
fn comma_joined_header_values_are_read_as_lists() {
    let e = engine(
        r#"
        [policy]
        default = "forbid"
        [[rules]]
        name = "no-dev"
        effect = "forbid"
        when = { header = { x-env = "dev" } }
        [[rules]]
        name = "prod-only"
        effect = "allow"
        when = { header = { x-env = { glob = "prod*" } } }
        [[rules]]
        name = "browsers"
        effect = "allow"
        when = { user_agent = "Mozilla/*" }
    "#,
    );
    let peer = ip("192.0.2.1");
    let cases: &[(&str, &str, Want)] = &[
        ("x-env", "prod", (Allow, "prod-only")),
        // Joined by an intermediary, split again by a backend: `dev` is there.
        ("x-env", "prod, dev", (Forbidden, "no-dev")),
        ("x-env", "prod,dev", (Forbidden, "no-dev")),
        // An allow condition needs every element: `prod, staging` is not all prod.
        ("x-env", "prod, staging", (Forbidden, "default")),
        ("x-env", "prod-eu, prod-us", (Allow, "prod-only")),
        // User-Agent is not a list: its commas are part of the product comment.
        (
            "user-agent",
            "Mozilla/5.0 (KHTML, like Gecko)",
            (Allow, "browsers"),
        ),
    ];
    for (name, value, want) in cases {
        let req = Request::get("/").peer(peer).header(*name, *value);
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{name}: {value}"
        );
    }
}

#[test]
fn forwarded_host_claims_are_further_readings() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [[rules]]
        name = "no-admin-host"
        effect = "forbid"
        when = { host = "admin.example.com" }
    "#,
    );
    let peer = ip("192.0.2.1");
    let cases: &[(Headers, Want)] = &[
        (&[("host", "www.example.com")], (Allow, "default")),
        (
            &[("host", "admin.example.com")],
            (Forbidden, "no-admin-host"),
        ),
        (
            &[
                ("host", "www.example.com"),
                ("x-forwarded-host", "admin.example.com"),
            ],
            (Forbidden, "no-admin-host"),
        ),
        (
            &[
                ("host", "www.example.com"),
                ("x-forwarded-host", "a.example.com, ADMIN.example.com:443"),
            ],
            (Forbidden, "no-admin-host"),
        ),
        (
            &[
                ("host", "www.example.com"),
                ("forwarded", "for=192.0.2.1;host=\"admin.example.com\""),
            ],
            (Forbidden, "no-admin-host"),
        ),
        (
            &[
                ("host", "www.example.com"),
                (
                    "x-forwarded-host",
                    "a.example.com, b.example.com, c.example.com",
                ),
            ],
            (Forbidden, "refused: the request names more than one host"),
        ),
        (
            &[("host", "admin.example.com..")],
            (Forbidden, "refused: the host is not a valid host name"),
        ),
        (
            &[("host", ".admin.example.com")],
            (Forbidden, "refused: the host is not a valid host name"),
        ),
    ];
    for (headers, want) in cases {
        let mut req = Request::get("/").peer(peer);
        for (n, v) in *headers {
            req = req.header(*n, *v);
        }
        assert_eq!(
            outcome(&e, &req),
            (want.0, want.1.to_owned()),
            "{headers:?}"
        );
    }
    let text = e
        .explain(
            &Request::get("/")
                .peer(peer)
                .header("host", "www.example.com")
                .header("x-forwarded-host", "admin.example.com"),
        )
        .to_string();
    assert!(text.contains("claimed by a forwarding header"), "{text}");
}

#[test]
fn paths_are_not_trimmed() {
    let e = engine(
        r#"
        [policy]
        default = "forbid"
        [[rules]]
        name = "health"
        effect = "allow"
        when = { path = "/health" }
    "#,
    );
    let peer = ip("192.0.2.1");
    assert_eq!(
        outcome(&e, &Request::get("/health").peer(peer)),
        (Allow, "health".to_owned())
    );
    // A trailing encoded space is refused outright: some backends trim it.
    assert_eq!(
        outcome(&e, &Request::get("/health%20").peer(peer)),
        (
            Forbidden,
            "refused: a path segment starts or ends with a space".to_owned()
        )
    );
    assert_eq!(
        outcome(&e, &Request::get("/health%20check").peer(peer)),
        (Forbidden, "default".to_owned())
    );
    assert_eq!(
        outcome(&e, &Request::get("/health%09").peer(peer)).0,
        Forbidden
    );
}

#[test]
fn secrets_in_other_headers_are_redacted() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [[rules]]
        name = "no-debug-cookie"
        effect = "forbid"
        when = { header = { cookie = { regex = ".*debug=1.*" } } }
    "#,
    );
    let req = Request::get("/")
        .peer(ip("192.0.2.1"))
        .header("cookie", "session=s3cret; debug=1");
    let text = e.explain(&req).to_string();
    assert!(
        text.contains("no-debug-cookie") && !text.contains("s3cret"),
        "{text}"
    );
    assert!(!format!("{req:?}").contains("s3cret"));
}

#[test]
fn unknown_clients_are_explained_as_such() {
    let e = engine(
        r#"
        [policy]
        default = "allow"
        [client_ip]
        source = "x-forwarded-for"
        trusted_proxies = ["10.0.0.0/8"]
        on_unknown = "evaluate"
        [lists]
        blocked = ["192.0.2.0/24"]
        [[rules]]
        name = "blocked"
        effect = "forbid"
        when = { ip = "@blocked" }
    "#,
    );
    let req = Request::get("/")
        .peer(ip("10.0.0.1"))
        .header("x-forwarded-for", "junk");
    let text = e.explain(&req).to_string();
    assert!(
        text.contains(r#"client address unknown, read as in list "blocked""#),
        "{text}"
    );
}

#[cfg(feature = "http")]
#[test]
fn connect_requests_are_refused() {
    let e = engine("[policy]\ndefault = \"allow\"\n");
    let request = http::Request::builder()
        .method("CONNECT")
        .uri("example.com:443")
        .body(())
        .unwrap();
    let v = e.decide(&portcullis::RequestView::from_http(
        &request,
        Some(ip("192.0.2.1")),
    ));
    assert_eq!(v.cause(), Cause::Refused(Refusal::EmptyTarget));
}

#[test]
fn many_rules_compile_small_and_decide_right() {
    let mut text = String::from("[policy]\ndefault = \"allow\"\n");
    for i in 0..5000u32 {
        let [a, b] = (i as u16).to_be_bytes();
        text.push_str(&format!("[[rules]]\nname = \"r{i}\"\neffect = \"forbid\"\nwhen = {{ ip = \"10.9.{a}.{b}\", method = \"M{i}\" }}\n"));
    }
    let e = engine(&text);
    assert_eq!(
        outcome(&e, &Request::new("M4321", "/").peer(ip("10.9.16.225"))),
        (Forbidden, "r4321".to_owned())
    );
    assert_eq!(
        outcome(&e, &Request::new("M4321", "/").peer(ip("10.9.16.226"))),
        (Allow, "default".to_owned())
    );
}
