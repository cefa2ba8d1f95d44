//! The one-line explanation an operator reads, pinned word for word for each case it must
//! tell apart.

use std::net::IpAddr;

use portcullis::{Engine, Policy, Request};

fn engine(text: &str) -> Engine {
    match Policy::from_toml(text).and_then(|p| p.compile()) {
        Ok(e) => e,
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn check(e: &Engine, cases: &[(&str, Request, &str)]) {
    for (name, req, want) in cases {
        assert_eq!(e.explain(req).to_string(), *want, "{name}");
    }
}

const KEYS: &str = r#"[policy]
default = "forbid"
[keys]
header = "X-Api-Key"
[keys.clients.billing]
sha256 = ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"] # "abc"
roles = ["internal"]
[keys.clients.acme]
sha256 = ["88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"] # "abcd"
roles = ["partner"]
[[rules]]
name = "anonymous-health"
effect = "allow"
when = { path = ["/health"], authenticated = false }
[[rules]]
name = "partners"
effect = "allow"
when = { path = ["/api/**"], role = ["partner", "internal"] }
"#;

#[test]
fn a_missing_key_reads_differently_from_an_unknown_one() {
    let e = engine(KEYS);
    let peer = ip("192.0.2.1");
    let get = |t: &str| Request::get(t).peer(peer);
    check(
        &e,
        &[
            (
                "no key, nearest rule reads roles",
                get("/api/x"),
                r#"forbidden by default (forbid): no rule applied; nearest rule "partners" (<policy>:15:1) met 1 of 2 conditions: no API key presented (header `x-api-key` or `Authorization: Bearer`), so roles matched none of "partner", "internal""#,
            ),
            (
                "unknown key, said once",
                get("/api/x").header("x-api-key", "wrong"),
                r#"forbidden by default (forbid): no rule applied; nearest rule "partners" (<policy>:15:1) met 1 of 2 conditions: an API key was presented but matches no client, so roles matched none of "partner", "internal""#,
            ),
            (
                "unknown bearer token",
                get("/api/x").header("authorization", "Bearer wrong"),
                r#"forbidden by default (forbid): no rule applied; nearest rule "partners" (<policy>:15:1) met 1 of 2 conditions: an API key was presented but matches no client, so roles matched none of "partner", "internal""#,
            ),
            (
                "a known key without the role",
                get("/api/x").header("x-api-key", "abc"),
                r#"allowed by rule "partners" (<policy>:15:1): path "/api/x" matched "/api/**"; roles "internal" matched "internal""#,
            ),
            (
                "unknown key where the rule that decided reads authentication",
                get("/health").header("x-api-key", "wrong"),
                r#"allowed by rule "anonymous-health" (<policy>:11:1): path "/health" matched "/health"; an API key was presented but matches no client, so authenticated is false"#,
            ),
            (
                "unknown key that no condition shown read",
                get("/other").header("x-api-key", "wrong"),
                r#"forbidden by default (forbid): no rule applied; nearest rule "anonymous-health" (<policy>:11:1) met 1 of 2 conditions: path "/other" did not match "/health"; an API key was presented but matches no client"#,
            ),
        ],
    );
}

#[test]
fn a_missing_key_names_the_configured_header() {
    let e = engine(
        r#"[policy]
default = "allow"
[keys]
header = "X-Token"
bearer = false
[keys.clients.ci]
sha256 = ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]
[[rules]]
name = "login"
effect = "forbid"
status = 401
when = { path = ["/private/**"], authenticated = false }
[[rules]]
name = "ci-only"
effect = "forbid"
when = { path = ["/deploy"], client = ["ci"] }
"#,
    );
    let peer = ip("192.0.2.1");
    check(
        &e,
        &[
            (
                "the deciding rule",
                Request::get("/private/x").peer(peer),
                r#"forbidden (401) by rule "login" (<policy>:8:1): path "/private/x" matched "/private/**"; no API key presented (header `x-token`), so authenticated is false"#,
            ),
            (
                // `Authorization: Bearer` is not read under `bearer = false`: no key.
                "a bearer token is not a key here",
                Request::get("/private/x")
                    .peer(peer)
                    .header("authorization", "Bearer abc"),
                r#"forbidden (401) by rule "login" (<policy>:8:1): path "/private/x" matched "/private/**"; no API key presented (header `x-token`), so authenticated is false"#,
            ),
            (
                "a client condition",
                Request::get("/deploy").peer(peer),
                r#"allowed by default (allow): no rule applied; nearest rule "ci-only" (<policy>:13:1) met 1 of 2 conditions: no API key presented (header `x-token`), so api client did not match "ci""#,
            ),
        ],
    );
}

#[test]
fn an_ignored_forwarding_header_is_named() {
    let policy = |source: &str| {
        engine(&format!(
            r#"[policy]
default = "allow"
[client_ip]
source = "{source}"
trusted_proxies = ["10.0.0.0/8"]
[lists]
bad = ["192.0.2.0/24"]
[[rules]]
name = "blocked"
effect = "forbid"
when = {{ ip = ["@bad"], path = ["/x/**"] }}
"#
        ))
    };
    let xff = policy("x-forwarded-for");
    let from = |peer: &str, target: &str| Request::get(target).peer(ip(peer));
    check(
        &xff,
        &[
            (
                "untrusted peer with the header",
                from("198.51.100.1", "/x/1").header("x-forwarded-for", "192.0.2.5"),
                r#"allowed by default (allow): no rule applied; nearest rule "blocked" (<policy>:8:1) met 1 of 2 conditions: client 198.51.100.1 is not in list "bad"; client is the peer 198.51.100.1: it is not a trusted proxy, so its x-forwarded-for header was ignored"#,
            ),
            (
                "untrusted peer without the header: nothing was ignored",
                from("198.51.100.1", "/x/1"),
                r#"allowed by default (allow): no rule applied; nearest rule "blocked" (<policy>:8:1) met 1 of 2 conditions: client 198.51.100.1 is not in list "bad""#,
            ),
            (
                "trusted peer",
                from("10.0.0.1", "/x/1").header("x-forwarded-for", "192.0.2.5"),
                r#"forbidden by rule "blocked" (<policy>:8:1): client 192.0.2.5 is in list "bad"; path "/x/1" matched "/x/**"; client 192.0.2.5 from x-forwarded-for hop 1 (peer 10.0.0.1 is a trusted proxy)"#,
            ),
            (
                "refused before any rule, still named",
                from("198.51.100.1", "/x/../y").header("x-forwarded-for", "192.0.2.5"),
                "forbidden (400) before any rule: the path holds a dot segment; client is the peer 198.51.100.1: it is not a trusted proxy, so its x-forwarded-for header was ignored",
            ),
        ],
    );
    let real = policy("x-real-ip");
    check(
        &real,
        &[(
            "the header the policy reads is the one named",
            from("203.0.113.9", "/y").header("x-real-ip", "192.0.2.5"),
            "allowed by default (allow): no rule applied; client is the peer 203.0.113.9: it is not a trusted proxy, so its x-real-ip header was ignored",
        ), (
            "another forwarding header is not the one ignored",
            from("203.0.113.9", "/y").header("x-forwarded-for", "192.0.2.5"),
            "allowed by default (allow): no rule applied",
        )],
    );
    let peer_only = engine("[policy]\ndefault = \"allow\"\n");
    check(
        &peer_only,
        &[(
            "a policy that reads only the peer ignores nothing by mistake",
            from("198.51.100.1", "/").header("x-forwarded-for", "192.0.2.5"),
            "allowed by default (allow): no rule applied",
        )],
    );
    let json = serde_json::to_value(
        xff.explain(&from("198.51.100.1", "/").header("x-forwarded-for", "192.0.2.5")),
    )
    .unwrap();
    assert_eq!(json["client"]["ignored_header"], "x-forwarded-for");
    assert_eq!(json["client"]["derivation"]["via"], "untrusted-peer");
}

#[test]
fn the_nearest_rule_is_one_whose_path_matched() {
    let e = engine(
        r#"[policy]
default = "forbid"
[[rules]]
name = "api"
effect = "allow"
when = { path = ["/api/**"], method = ["GET", "POST", "OPTIONS"] }
[[rules]]
name = "public"
effect = "allow"
when = { path = ["/public/**"], method = ["GET"] }
[[rules]]
name = "no-trace"
effect = "forbid"
when = { method = ["OPTIONS"], path = ["/public/**"], header = { x-trace = { present = true } } }
"#,
    );
    let peer = ip("192.0.2.1");
    check(
        &e,
        &[
            (
                "a preflight on a public path points at the public rule's method",
                Request::new("OPTIONS", "/public/x").peer(peer),
                r#"forbidden by default (forbid): no rule applied; nearest rule "public" (<policy>:7:1) met 1 of 2 conditions: method "OPTIONS" did not match "GET""#,
            ),
            (
                "a path no rule has: the rule whose other conditions held",
                Request::new("OPTIONS", "/other").peer(peer),
                r#"forbidden by default (forbid): no rule applied; nearest rule "api" (<policy>:3:1) met 1 of 2 conditions: path "/other" did not match "/api/**""#,
            ),
        ],
    );
}

#[test]
fn under_default_allow_the_nearest_rule_is_a_forbid_rule() {
    let e = engine(
        r#"[policy]
default = "allow"
[[rules]]
name = "readers"
effect = "allow"
when = { path = ["/docs/**"], method = ["GET"] }
[[rules]]
name = "no-delete"
effect = "forbid"
when = { path = ["/docs/**"], method = ["DELETE"] }
[[rules]]
name = "no-admin"
effect = "forbid"
when = { path = ["/admin/**"] }
unless = { header = { x-admin = "yes" } }
"#,
    );
    let peer = ip("192.0.2.1");
    check(
        &e,
        &[
            (
                "a forbid rule, though an allow rule is as near",
                Request::new("POST", "/docs/x").peer(peer),
                r#"allowed by default (allow): no rule applied; nearest rule "no-delete" (<policy>:7:1) met 1 of 2 conditions: method "POST" did not match "DELETE""#,
            ),
            (
                "exempted",
                Request::get("/admin/x").peer(peer).header("x-admin", "yes"),
                r#"allowed by default (allow): no rule applied; nearest rule "no-admin" (<policy>:11:1) met 1 of 1 conditions, but was exempted: header x-admin "yes" matched "yes""#,
            ),
            (
                "nothing near",
                Request::get("/other").peer(peer),
                "allowed by default (allow): no rule applied",
            ),
        ],
    );
}
