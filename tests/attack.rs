//! Independent attack review: each finding is a test that asserts the secure behaviour and is
//! ignored while it fails; `held` lists what was tried and held.

mod support;

use std::net::IpAddr;

use portcullis::gate::Gate;
use portcullis::{Decision, Engine, Format, Policy, Request};
use support::{get, logs, start, Framework, FRAMEWORKS};

fn engine(toml: &str) -> Engine {
    Policy::from_toml(toml).unwrap().compile().unwrap()
}

fn compiles(toml: &str) -> Result<(), String> {
    Policy::from_toml(toml)
        .and_then(|p| p.compile())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn peer() -> IpAddr {
    "198.51.100.1".parse().unwrap()
}

fn allowed(e: &Engine, r: Request) -> bool {
    e.decide(&r.peer(peer())).decision() == Decision::Allow
}

const KEY_POLICY: &str = r#"
[policy]
default = "allow"
[keys]
header = "x-api-key"
[keys.clients.ops]
sha256 = ["{digest}"]
[[rules]]
name = "odd-keys"
effect = "forbid"
when = { header = { "x_api_key" = { present = true } } }
"#;

// Finding 1: a credential header spelt with `_` in the policy escapes the secrecy checks, and
// its value (the real API key) is printed in explanations and in the gate's WARN log.

#[test]
fn finding1_credential_header_twins_take_no_value_matchers() {
    let digest = portcullis::hash_key(b"k");
    let with_keys = |cond: &str| {
        format!(
            "[policy]\ndefault = \"allow\"\n[keys]\nheader = \"x-api-key\"\n[keys.clients.c]\nsha256 = [\"{digest}\"]\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\nwhen = {{ header = {{ {cond} }} }}\n"
        )
    };
    // The docs: the key header, `authorization` and `proxy-authorization` take only
    // present/absent; a secret never sits in a policy in clear text.
    for cond in [
        r#""x_api_key" = "hunter2-the-real-key""#,
        r#""X_Api_Key" = { regex = "sk-.*" }"#,
        r#""proxy_authorization" = { glob = "Basic *" }"#,
    ] {
        assert!(compiles(&with_keys(cond)).is_err(), "{cond} compiled");
    }
    // `cookie` / `set-cookie` never take an exact value.
    assert!(compiles(&with_keys(r#""set_cookie" = "session=abc""#)).is_err());
}

#[test]
fn finding1_explanations_never_show_keys_under_twin_names() {
    let e = engine(&KEY_POLICY.replace("{digest}", &portcullis::hash_key(b"k")));
    let r = Request::get("/")
        .peer(peer())
        .header("X-Api-Key", "topsecret-key-value")
        .header("X_Request_Id", "1");
    let text = e.explain(&r).to_string();
    assert!(!text.contains("topsecret-key-value"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding1_logs_never_hold_keys_under_twin_names() {
    let _ = logs();
    let gate = Gate::new(engine(
        &KEY_POLICY.replace("{digest}", &portcullis::hash_key(b"k")),
    ));
    let server = start(Framework::Axum, gate, "127.0.0.1:0").await;
    let headers = [
        ("X-Api-Key", "leaked-key-0123456789"),
        ("X_Request_Id", "1"),
    ];
    let res = get(server.addr, None, "/", &headers).await;
    assert_eq!(res.status, 403);
    let log = logs();
    assert!(!log.contains("leaked-key-0123456789"), "{log}");
}

// Finding 2: a policy header name spelt with `_` misses the ordinary `-` spelling, unless the
// request happens to carry some other header with an underscore in its name.

const X_DEBUG_POLICY: &str = r#"
[policy]
default = "allow"
[[rules]]
name = "no-debug"
effect = "forbid"
when = { header = { "x_debug" = { present = true } } }
"#;

#[test]
fn finding2_underscore_policy_names_see_the_dash_spelling() {
    let e = engine(X_DEBUG_POLICY);
    // Control: with an unrelated underscore header the rule applies ...
    assert!(!allowed(
        &e,
        Request::get("/")
            .header("X-Debug", "1")
            .header("X_Other", "1")
    ));
    assert!(!allowed(&e, Request::get("/").header("X_Debug", "1")));
    // ... without one, the same X-Debug header passes.
    assert!(!allowed(&e, Request::get("/").header("X-Debug", "1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding2_underscore_policy_names_on_real_servers() {
    for fw in FRAMEWORKS {
        let server = start(fw, Gate::new(engine(X_DEBUG_POLICY)), "127.0.0.1:0").await;
        let res = get(server.addr, None, "/", &[("X-Debug", "1")]).await;
        assert_eq!(res.status, 403, "{fw:?}: {res:?}");
    }
}

// Finding 3: PHP reads a parameter name only up to a NUL (`strlen` in
// php_register_variable_ex), so `_method%00x=DELETE` is `$_GET['_method']` to PHP, Laravel and
// Symfony; the engine does not count it as an override.

#[test]
fn finding3_php_nul_truncated_method_override() {
    let e = engine(
        "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"no-delete\"\neffect = \"forbid\"\nwhen = { method = \"DELETE\" }\n",
    );
    assert!(
        !allowed(&e, Request::new("POST", "/x?_method=DELETE")),
        "control"
    );
    for target in [
        "/x?_method%00=DELETE",
        "/x?_method%00junk=DELETE",
        "/x?.method%00=DELETE",
    ] {
        assert!(!allowed(&e, Request::new("POST", target)), "{target}");
    }
}

// Finding 4: trailing slashes. Express (non-strict routing, the default), Rails, Laravel and
// Spring MVC 5 (trailing-slash match on by default) route `/admin/` to the `/admin` handler
// and `/api/users/7/` to `/api/users/:id`; the engine matches `/admin` and `/api/users/*` only
// without the slash.

#[test]
fn finding4_trailing_slash_escapes_exact_globs() {
    let e = engine(
        "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\nwhen = { path = [\"/admin\", \"/api/users/*\"] }\n",
    );
    assert!(!allowed(&e, Request::get("/admin")), "control");
    assert!(!allowed(&e, Request::get("/api/users/7")), "control");
    assert!(!allowed(&e, Request::get("/admin/")));
    assert!(!allowed(&e, Request::get("/api/users/7/")));
}

// Finding 5: with `case_sensitive = false` (what the docs tell Windows file servers to set),
// Win32 path normalisation drops trailing dots of a segment and reads `name::$DATA` as `name`.

#[test]
fn finding5_windows_trailing_dots_and_streams() {
    let e = engine(
        "[policy]\ndefault = \"allow\"\n[paths]\ncase_sensitive = false\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\nwhen = { path = [\"/private/**\", \"/web.config\"] }\n",
    );
    assert!(!allowed(&e, Request::get("/PRIVATE/x")), "control");
    for target in [
        "/private./x",
        "/Private.../x",
        "/web.config.",
        "/web.config::$DATA",
        "/private::$INDEX_ALLOCATION/x",
    ] {
        assert!(!allowed(&e, Request::get(target)), "{target}");
    }
}

// Finding 6: compatibility characters that NFKC (Python's unicodedata, Java's Normalizer) and
// Windows best-fit mapping turn into `.`, `/` and ASCII letters are neither refused nor folded.

#[test]
fn finding6_fullwidth_compatibility_characters() {
    let e = engine(
        "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\nwhen = { path = \"/private/**\" }\n",
    );
    for target in [
        "/public/%EF%BC%8E%EF%BC%8E/private/x", // /public/．．/private/x
        "/private%EF%BC%8Fx",                   // /private／x
        "/%EF%BD%90rivate/x",                   // /ｐrivate/x
    ] {
        assert!(!allowed(&e, Request::get(target)), "{target}");
    }
}

// Finding 7: `trusted_proxies` refuses `0.0.0.0/0` and `::/0` but not the same set in halves.

#[test]
fn finding7_trusted_proxies_everyone_in_halves() {
    for nets in [r#"["0.0.0.0/1", "128.0.0.0/1"]"#, r#"["::/1", "8000::/1"]"#] {
        let p = format!("[policy]\ndefault = \"allow\"\n[client_ip]\nsource = \"x-forwarded-for\"\ntrusted_proxies = {nets}\n");
        assert!(compiles(&p).is_err(), "{nets}");
    }
}

// Finding 8: YAML merge keys give one mapping a key twice, and one silently wins.

#[test]
fn finding8_yaml_merge_keys_repeat_keys() {
    let docs = [
        // Two merged mappings name `effect`: the first silently wins (allow).
        "policy: {default: allow}\nrules:\n  - name: a\n    <<: [{effect: allow}, {effect: forbid}]\n    when: {path: /admin}\n",
        // An explicit key and a merged one.
        "policy: {default: allow}\nrules:\n  - name: a\n    effect: forbid\n    <<: {effect: allow}\n    when: {path: /admin}\n",
        "policy: {default: allow}\nlists:\n  office: [10.0.0.0/8]\n  <<: {office: [0.0.0.0/0]}\n",
    ];
    for doc in docs {
        let got = Policy::parse("p.yaml", doc.to_owned(), Format::Yaml).and_then(|p| p.compile());
        assert!(got.is_err(), "{doc}");
    }
}

// Finding 9: conditions that can never hold still compile.

#[test]
fn finding9_never_matching_patterns_compile() {
    let rule = |cond: &str, paths: &str| {
        format!("[policy]\ndefault = \"forbid\"\n{paths}[[rules]]\nname = \"r\"\neffect = \"allow\"\nwhen = {{ {cond} }}\n")
    };
    // An allow condition needs the whole value and each comma element to match: never.
    let comma = rule(r#"header = { x-env = "eu,us" }"#, "");
    assert!(compiles(&comma).is_err(), "exact value with a comma");
    // On the forbid side the whole value is one of the readings, so it can match.
    let forbid = comma.replace("effect = \"allow\"", "effect = \"forbid\"");
    let e = engine(&forbid);
    assert!(!allowed(&e, Request::get("/").header("x-env", "eu,us")));
    // Paths with a Unicode space at a segment edge are refused, so this glob never matches.
    assert!(
        compiles(&rule("path = \"/a\\u00a0/b\"", "")).is_err(),
        "NBSP edge"
    );
    // Under case-insensitive paths a dotless i is refused, so this glob never matches.
    assert!(
        compiles(&rule(
            "path = \"/adm\\u0131n\"",
            "[paths]\ncase_sensitive = false\n"
        ))
        .is_err(),
        "dotless i"
    );
}

/// What was tried and held: each row must be refused (400) or forbidden (403).
#[test]
fn held() {
    let digest_good = portcullis::hash_key(b"good-key");
    let digest_bad = portcullis::hash_key(b"susp-key");
    let policy = format!(
        r#"
[policy]
default = "allow"
[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["10.0.0.1"]
[keys]
header = "x-api-key"
[keys.clients.good]
sha256 = ["{digest_good}"]
[keys.clients.suspended]
sha256 = ["{digest_bad}"]
[[rules]]
name = "block-net"
effect = "forbid"
when = {{ ip = ["192.0.2.0/24"] }}
[[rules]]
name = "no-suspended"
effect = "forbid"
when = {{ client = ["suspended"] }}
[[rules]]
name = "no-debug"
effect = "forbid"
when = {{ header = {{ x-debug = "on" }} }}
[[rules]]
name = "no-private"
effect = "forbid"
when = {{ path = ["/private/**"] }}
[[rules]]
name = "no-delete"
effect = "forbid"
when = {{ method = ["delete"] }}
[[rules]]
name = "admin-host"
effect = "forbid"
when = {{ host = ["admin.example.com"] }}
"#
    );
    let e = engine(&policy);
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let xff = |v: &str| Request::get("/").header("X-Forwarded-For", v.to_owned());
    let rows: Vec<Request> = vec![
        xff("::ffff:192.0.2.5"),
        xff("[::ffff:192.0.2.5]:80"),
        xff("::ffff:c000:205"),
        xff("0:0:0:0:0:ffff:192.0.2.5"),
        xff("192.0.2.5."),
        xff("2001:db8::1%eth0"),
        xff("\"192.0.2.5\""),
        xff("192.0.2.5;x"),
        xff(""),
        Request::get("/")
            .header("x-api-key", "good-key")
            .header("Authorization", "Bearer susp-key"),
        Request::get("/")
            .header("x-api-key", "good-key")
            .header("Authorization", "bEaReR\tsusp-key"),
        Request::get("/")
            .header("x-api-key", "good-key")
            .header("Authorization", "Bearer susp-key, Bearer good-key"),
        Request::get("/")
            .header("x-api-key", "good-key")
            .header("x_api_key", "susp-key"),
        Request::get("/").header("x-api-key", "susp-key "),
        Request::get("/").header("x-debug", "off, on"),
        Request::get("/")
            .header("x-debug", "off")
            .header("x_debug", "on"),
        Request::get("/").header("x-debug", "o\u{0}n"),
        Request::get("/").header("x-debug", "on\u{b}"),
        Request::get("/%u0070rivate/x"),
        Request::get("/%c0%ae%c0%ae/private/x"),
        Request::get("/x/%2e%2E/private/x"),
        Request::get("/private%E2%80%8B/x"),
        Request::get("http://x/private/x"),
        Request::get("HTTP://admin.example.com/"),
        Request::get("http://user@admin.example.com/"),
        Request::get("http://admin.example.com\\@x/"),
        Request::get("/").header("Host", "ADMIN.example.com.:80"),
        Request::get("/").header("Host", "admin.example.com:"),
        Request::get("/")
            .header("Host", "x")
            .header("X-Forwarded-Host", "admin.example.com"),
        Request::get("/")
            .header("Host", "x")
            .header("X_Forwarded_Host", "admin.example.com"),
        Request::get("/")
            .header("Host", "x")
            .header("Forwarded", "host=\"admin.example.com \""),
        Request::get("/")
            .header("Host", "x")
            .header("Forwarded", "host = admin.example.com"),
        Request::get("/")
            .header("Host", "x")
            .header("Host", "admin.example.com"),
        Request::new("POST", "/x?_method=delete"),
        Request::new("POST", "/x?%5Fmethod=DELETE"),
        Request::new("POST", "/x?_method=DELETE%00"),
        Request::new("POST", "/x").header("X-Http-Method-Override", " delete "),
        Request::new("POST", "/x").header("X-HTTP-Method-Override", "GET,DELETE"),
        Request::new("POST", "/x").header("x_http_method_override", "DELETE"),
        Request::new("delete", "/x"),
        Request::new("GET", "/x").header("X-Original-URL", "/private/x"),
    ];
    for r in rows {
        let r = r.peer(proxy);
        let v = e.decide(&r);
        assert!(!v.is_allowed(), "{r:?} was allowed: {}", e.explain(&r));
    }
    // Policy-side refusals that held.
    assert!(compiles("[policy]\ndefault = \"allow\"\n[client_ip]\nsource = \"x-forwarded-for\"\ntrusted_proxies = [\"::ffff:0.0.0.0/96\"]\n").is_err());
    let yaml_dup = "policy: {default: allow}\nrules:\n  - name: a\n    effect: forbid\n    when: {path: /admin}\n    effect: allow\n";
    assert!(Policy::parse("p.yaml", yaml_dup.to_owned(), Format::Yaml).is_err());
}

/// A policy regex over a 60 KB header value stays cheap (no blow-up from lazy-DFA thrashing).
#[test]
fn regex_cost_is_linear_enough() {
    for re in [
        r".*a[ab]{20}x",
        r".*a[ab]{1000}x",
        r"(?:.*a[ab]{300}x|.*b[ab]{300}y)",
    ] {
        let e = engine(&format!(
            "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"a\"\neffect = \"forbid\"\nwhen = {{ header = {{ x-a = {{ regex = '{re}' }} }} }}\n"
        ));
        let value: String = (0..60_000usize)
            .map(|i| if (i * 7919) % 3 == 0 { 'a' } else { 'b' })
            .chain(std::iter::once('x'))
            .collect();
        let r = Request::get("/").peer(peer()).header("x-a", value);
        let start = std::time::Instant::now();
        for _ in 0..3 {
            let _ = e.decide(&r);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{re}");
    }
}
