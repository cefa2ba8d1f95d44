//! Bearer tokens: verification failures, claim conditions, 401 vs 403, ambiguity, the key-set
//! server (rotation, random key ids, failures), the test harness, and the adapters end to end.
#![cfg(feature = "tokens")]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::explain::CredentialReport;
use portcullis::gate::Gate;
use portcullis::testing::{req, BearerClaims};
use portcullis::{Challenge, Engine, Policy, Refusal, Request};
use serde_json::{json, Value};

const ISS: &str = "https://id.example.com/";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signing key and its public JWK.
struct TestKey {
    enc: EncodingKey,
    jwk: Jwk,
    alg: Algorithm,
    kid: String,
}

impl TestKey {
    /// A fresh Ed25519 key, generated here.
    fn ed(kid: &str) -> TestKey {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        // PKCS#8 v1 (no public key inside), the form `Jwk::from_encoding_key` reads.
        let pair = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: seed,
            public_key: None,
        };
        let enc = EncodingKey::from_ed_der(pair.to_pkcs8_der().unwrap().as_bytes());
        TestKey::new(enc, Algorithm::EdDSA, kid)
    }

    /// The committed test-only RSA key.
    fn rsa(kid: &str) -> TestKey {
        let der = include_bytes!("fixtures/tokens/rsa-test-key.der");
        TestKey::new(EncodingKey::from_rsa_der(der), Algorithm::RS256, kid)
    }

    fn new(enc: EncodingKey, alg: Algorithm, kid: &str) -> TestKey {
        let mut jwk = Jwk::from_encoding_key(&enc, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        TestKey {
            enc,
            jwk,
            alg,
            kid: kid.to_owned(),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.enc).unwrap()
    }
}

fn jwks(keys: &[&TestKey]) -> String {
    serde_json::to_string(&JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    })
    .unwrap()
}

fn claims(extra: Value) -> Value {
    let mut c = json!({ "iss": ISS, "aud": "orders-api", "exp": now() + 600, "sub": "u1" });
    if let (Value::Object(c), Value::Object(extra)) = (&mut c, extra) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    c
}

fn b64(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    // base64url without padding, written out for the hand-made tokens below.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            let _ = out.write_char(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "portcullis-tokens-{name}-{}-{}",
            std::process::id(),
            now()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn policy(jwks: &str, rules: &str) -> String {
    format!(
        r#"
[policy]
default = "forbid"

[tokens.issuers.corp]
issuer = "{ISS}"
audiences = ["orders-api"]
jwks = {jwks}
algorithms = ["RS256", "EdDSA"]
leeway = "30s"
roles_claim = "roles"
client_claim = "client_id"

{rules}
"#
    )
}

const ORDERS: &str = r#"
[[rules]]
name = "public"
effect = "allow"
when = { path = "/public/**" }

[[rules]]
name = "orders-write"
effect = "allow"
when = { path = "/orders/**", method = "POST", scope = "orders:write", claim = { tenant = ["acme"] } }
"#;

fn bearer(target: &str, token: &str) -> Request {
    req(&format!("POST {target} from 192.0.2.1")).header("authorization", format!("Bearer {token}"))
}

#[test]
fn tokens_are_verified_and_failures_explained_never_shown() {
    let dir = Dir::new("verify");
    let rsa = TestKey::rsa("r1");
    let ed = TestKey::ed("e1");
    let file = dir.write("jwks.json", &jwks(&[&rsa, &ed]));
    let engine = Policy::from_toml(&policy(&format!("{{ file = {file:?} }}"), ORDERS))
        .unwrap()
        .compile()
        .unwrap();
    let good = claims(json!({ "scope": "orders:read orders:write", "tenant": "acme" }));
    let valid_rs = rsa.sign(&good);
    let valid_ed = ed.sign(&good);
    let mut tampered: Vec<String> = valid_rs.split('.').map(str::to_owned).collect();
    tampered[1] = b64(serde_json::to_string(&claims(
        json!({ "scope": "orders:write admin", "tenant": "acme" }),
    ))
    .unwrap()
    .as_bytes());
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(serde_json::to_string(&good).unwrap().as_bytes())
    );
    // HS256 signed with the RSA public key's bytes as the secret: the key-confusion attack.
    let public = match &rsa.jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => p.n.clone(),
        _ => unreachable!(),
    };
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("r1".into());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(public.as_bytes()).unwrap(),
    )
    .unwrap();
    // A key the token carries itself (`jku`) is never fetched nor trusted.
    let evil = TestKey::ed("evil");
    let mut jku_header = Header::new(Algorithm::EdDSA);
    jku_header.kid = Some("evil".into());
    jku_header.jku = Some("https://attacker.example/jwks.json".into());
    let jku = jsonwebtoken::encode(&jku_header, &good, &evil.enc).unwrap();

    let oversize = rsa.sign(&claims(json!({ "pad": "x".repeat(10_000) })));
    type Case = (
        &'static str,
        String,
        u16,
        Option<&'static str>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "RS256",
            valid_rs.clone(),
            200,
            None,
            "allowed by rule \"orders-write\"",
        ),
        (
            "EdDSA",
            valid_ed,
            200,
            None,
            "scope \"orders:read orders:write\" has \"orders:write\"",
        ),
        (
            "expired",
            rsa.sign(&claims(
                json!({ "exp": now() - 150, "scope": "orders:write", "tenant": "acme" }),
            )),
            401,
            Some("invalid_token"),
            "token expired 2 min ago",
        ),
        (
            "expired within the leeway",
            rsa.sign(&claims(
                json!({ "exp": now() - 5, "scope": "orders:write", "tenant": "acme" }),
            )),
            200,
            None,
            "allowed",
        ),
        (
            "not yet valid",
            rsa.sign(&claims(
                json!({ "nbf": now() + 600, "scope": "orders:write" }),
            )),
            401,
            Some("invalid_token"),
            "token not valid for another",
        ),
        (
            "wrong aud",
            rsa.sign(&claims(json!({ "aud": ["billing"] }))),
            401,
            Some("invalid_token"),
            r#"aud ["billing"] is not "orders-api""#,
        ),
        (
            "wrong iss",
            rsa.sign(&claims(json!({ "iss": "https://other.example/" }))),
            401,
            Some("invalid_token"),
            r#"iss "https://other.example/" is no trusted issuer"#,
        ),
        (
            "missing exp",
            rsa.sign(&claims(json!({ "exp": null }))),
            401,
            Some("invalid_token"),
            "claim `exp`",
        ),
        (
            "alg none",
            none,
            401,
            Some("invalid_token"),
            "not a well-formed JWT",
        ),
        (
            "HS256 with the public key",
            hs256,
            401,
            Some("invalid_token"),
            "alg \"HS256\" is not accepted",
        ),
        (
            "tampered payload",
            tampered.join("."),
            401,
            Some("invalid_token"),
            "signature does not verify",
        ),
        (
            "jku",
            jku,
            401,
            Some("invalid_token"),
            "no key \"evil\" fits",
        ),
        (
            "oversize",
            oversize,
            401,
            Some("invalid_token"),
            "is too long",
        ),
        (
            "garbage",
            "abc.def".into(),
            401,
            Some("invalid_token"),
            "not a well-formed JWT",
        ),
        (
            "lacks a scope",
            rsa.sign(&claims(json!({ "scope": "orders:read", "tenant": "acme" }))),
            403,
            Some("insufficient_scope"),
            r#"scope "orders:read" lacks "orders:write""#,
        ),
        (
            "wrong tenant",
            rsa.sign(&claims(
                json!({ "scope": "orders:write", "tenant": "other" }),
            )),
            403,
            None,
            r#"claim tenant "other" did not match "acme""#,
        ),
    ];
    for (name, token, status, error, says) in &cases {
        let request = bearer("/orders/7", token);
        let verdict = engine.decide(&request);
        let explanation = engine.explain(&request);
        let text = explanation.to_string();
        assert_eq!(verdict.status(), *status, "{name}: {text}");
        assert_eq!(explanation.status, *status, "{name}");
        let challenge = verdict.challenge().map(|c| c.header_value());
        match error {
            Some(e) => assert!(
                challenge.as_deref().is_some_and(|c| c.contains(e)),
                "{name}: {challenge:?}"
            ),
            None => assert_eq!(challenge, None, "{name}"),
        }
        assert!(text.contains(says), "{name}: {text}");
        let json = serde_json::to_string(&explanation).unwrap();
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(
                !text.contains(part) && !json.contains(part),
                "{name} shows the token"
            );
        }
    }
    // No credentials where the default forbids: a bare challenge; a public path needs none.
    let anonymous = engine.decide(&req("POST /orders/7 from 192.0.2.1"));
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.challenge(), Some(Challenge::Missing));
    assert!(engine
        .decide(&req("GET /public/x from 192.0.2.1"))
        .is_allowed());
}

#[test]
fn a_key_and_a_token_or_two_tokens_are_ambiguous() {
    let dir = Dir::new("ambiguous");
    let ed = TestKey::ed("e1");
    let file = dir.write("jwks.json", &jwks(&[&ed]));
    let text = policy(
        &format!("{{ file = {file:?} }}"),
        &format!(
            r#"
[keys]
header = "x-api-key"
[keys.clients.svc]
sha256 = "{}"
[[rules]]
name = "any-caller"
effect = "allow"
when = {{ authenticated = true }}
"#,
            portcullis::hash_key(b"k1")
        ),
    );
    let engine = Policy::from_toml(&text).unwrap().compile().unwrap();
    let t1 = ed.sign(&claims(json!({})));
    let t2 = ed.sign(&claims(json!({ "sub": "u2" })));
    let refused = Refusal::AmbiguousCredentials;
    let base = || req("GET /x from 192.0.2.1");
    let auth = |t: &str| format!("Bearer {t}");
    assert!(engine
        .decide(&base().header("authorization", auth(&t1)))
        .is_allowed());
    assert!(engine
        .decide(&base().header("x-api-key", "k1"))
        .is_allowed());
    let cases = [
        base()
            .header("x-api-key", "k1")
            .header("authorization", auth(&t1)),
        base()
            .header("authorization", auth(&t1))
            .header("authorization", auth(&t2)),
        base().header("authorization", format!("Bearer {t1}, {t2}")),
        // A list of one element, of a token already verified (and so cached) on its own.
        base().header("authorization", format!("Bearer {t1},")),
        base().header("authorization", format!("Bearer ,{t1}")),
    ];
    for r in &cases {
        assert_eq!(
            engine.decide(r).cause(),
            portcullis::Cause::Refused(refused)
        );
    }
    // The same token twice names one caller.
    let twice = base()
        .header("authorization", auth(&t1))
        .header("authorization", auth(&t1));
    assert!(engine.decide(&twice).is_allowed());
}

#[test]
fn claim_issuer_client_and_role_conditions() {
    let dir = Dir::new("claims");
    let ed = TestKey::ed("e1");
    let file = dir.write("jwks.json", &jwks(&[&ed]));
    let rules = r#"
[[rules]]
name = "no-guests"
effect = "forbid"
status = 403
when = { claim = { groups = "guests" } }

[[rules]]
name = "any-scope"
effect = "allow"
when = { path = "/any/**", scope = { any = ["a", "b"] } }

[[rules]]
name = "billing-client"
effect = "allow"
when = { path = "/billing/**", client = "billing-svc" }

[[rules]]
name = "admins"
effect = "allow"
when = { path = "/admin/**", role = "admin", issuer = "corp" }

[[rules]]
name = "typed"
effect = "allow"
when = { path = "/typed/**", claim = { level = [3, 4], verified = true, email = { glob = "*@acme.com" } } }
"#;
    let engine = Policy::from_toml(&policy(&format!("{{ file = {file:?} }}"), rules))
        .unwrap()
        .compile()
        .unwrap();
    let ask = |target: &str, extra: Value| {
        let token = ed.sign(&claims(extra));
        engine.explain(
            &req(&format!("GET {target} from 192.0.2.1"))
                .header("authorization", format!("Bearer {token}")),
        )
    };
    type Case = (&'static str, Value, bool, &'static str);
    let cases: Vec<Case> = vec![
        (
            "/admin/x",
            json!({ "roles": ["reader", "admin"] }),
            true,
            r#"roles "reader", "admin" matched "admin""#,
        ),
        (
            "/admin/x",
            json!({ "roles": "admin" }),
            true,
            "token issuer \"corp\" matched",
        ),
        (
            "/admin/x",
            json!({ "roles": ["reader"] }),
            false,
            r#"roles "reader" did not match "admin""#,
        ),
        (
            "/billing/x",
            json!({ "client_id": "billing-svc" }),
            true,
            r#"api client "billing-svc" matched"#,
        ),
        (
            "/billing/x",
            json!({ "client_id": "other" }),
            false,
            r#"api client "other" did not match"#,
        ),
        (
            "/typed/x",
            json!({ "level": 3, "verified": true, "email": "a@acme.com" }),
            true,
            "claim level 3 matched 3",
        ),
        (
            "/typed/x",
            json!({ "level": 5, "verified": true, "email": "a@acme.com" }),
            false,
            "claim level 5 matched none of 3, 4",
        ),
        (
            "/typed/x",
            json!({ "level": 4, "verified": "true", "email": "a@acme.com" }),
            false,
            "claim verified",
        ),
        (
            "/typed/x",
            json!({ "level": 4, "verified": true, "email": "a@evil.com" }),
            false,
            "claim email",
        ),
        (
            "/any/x",
            json!({ "scp": ["b"] }),
            true,
            r#"scope "b" has "b""#,
        ),
        ("/any/x", json!({ "scope": "c" }), false, "lacks"),
        // An array claim matches when one element does; a forbid rule reads it the same way.
        (
            "/admin/x",
            json!({ "roles": ["admin"], "groups": ["staff", "guests"] }),
            false,
            "forbidden by rule \"no-guests\"",
        ),
    ];
    for (target, extra, allowed, says) in &cases {
        let e = ask(target, extra.clone());
        let text = e.to_string();
        assert_eq!(
            e.decision == portcullis::Decision::Allow,
            *allowed,
            "{target} {extra}: {text}"
        );
        assert!(text.contains(says), "{target} {extra}: {text}");
    }
    let e = ask("/admin/x", json!({ "roles": ["admin"], "client_id": "c1" }));
    match e.credentials {
        CredentialReport::Token {
            issuer,
            client,
            roles,
            ..
        } => {
            assert_eq!((issuer.as_str(), client.as_deref()), ("corp", Some("c1")));
            assert_eq!(roles, ["admin"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn policies_that_misuse_tokens_do_not_compile() {
    let cases = [
        ("algorithms = [\"HS256\"]", "`HS256` is not accepted"),
        ("algorithms = [\"none\"]", "`none` is not accepted"),
        ("audiences = []", "audiences"),
        (
            "jwks = { url = \"http://id.example.com/jwks\" }",
            "must be https",
        ),
        ("leeway = \"10m\"", "over five minutes"),
    ];
    for (line, says) in cases {
        let mut text = format!(
            "[policy]\ndefault = \"forbid\"\n[tokens.issuers.corp]\nissuer = \"{ISS}\"\n{line}\n"
        );
        for (key, value) in [
            ("audiences", "[\"a\"]"),
            ("jwks", "{ url = \"https://id.example.com/jwks\" }"),
            ("algorithms", "[\"RS256\"]"),
        ] {
            if !line.starts_with(key) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        let err = Policy::from_toml(&text).unwrap().compile().unwrap_err();
        assert!(err.to_string().contains(says), "{line}: {err}");
    }
    let err = Policy::from_toml(
        "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"r\"\neffect = \"allow\"\nwhen = { scope = \"a\" }\n",
    )
    .unwrap()
    .compile()
    .unwrap_err();
    assert!(err.to_string().contains("no `[tokens]` issuers"), "{err}");
}

/// A loopback key-set server that counts the fetches and serves what the test sets.
struct JwksServer {
    url: String,
    fetches: Arc<AtomicU64>,
    body: Arc<Mutex<Option<String>>>,
    /// How long each answer waits, in milliseconds.
    delay: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl JwksServer {
    fn start(body: String) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let fetches = Arc::new(AtomicU64::new(0));
        let body = Arc::new(Mutex::new(Some(body)));
        let stop = Arc::new(AtomicBool::new(false));
        let delay = Arc::new(AtomicU64::new(0));
        let (f, b, s, d) = (fetches.clone(), body.clone(), stop.clone(), delay.clone());
        std::thread::spawn(move || {
            // Ends when told, or after a minute whatever happens.
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                f.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(d.load(Ordering::SeqCst)));
                let response = match b.lock().unwrap().clone() {
                    Some(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                };
                let _ = conn.write_all(response.as_bytes());
            }
        });
        JwksServer {
            url,
            fetches,
            body,
            delay,
            stop,
        }
    }

    fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn remote_engine(server: &JwksServer, min_interval: &str) -> Engine {
    let jwks = format!(
        "{{ url = {:?}, refresh = \"1h\", min_interval = {min_interval:?} }}",
        server.url
    );
    let engine = Policy::from_toml(&policy(&jwks, ORDERS))
        .unwrap()
        .compile()
        .unwrap();
    assert!(engine.wait_for_token_keys(Duration::from_secs(10)));
    engine
}

/// Polls `f` until it holds, for at most five seconds.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_rotated_key_costs_exactly_one_refetch() {
    let (old, new) = (TestKey::ed("old"), TestKey::ed("new"));
    let server = JwksServer::start(jwks(&[&old]));
    let engine = remote_engine(&server, "1s");
    assert_eq!(server.fetches(), 1);
    let good = claims(json!({ "scope": "orders:write", "tenant": "acme" }));
    assert!(engine
        .decide(&bearer("/orders/1", &old.sign(&good)))
        .is_allowed());
    // The issuer rotates: the first token with the new key asks for one fetch.
    *server.body.lock().unwrap() = Some(jwks(&[&old, &new]));
    let token = new.sign(&good);
    let first = engine.explain(&bearer("/orders/1", &token));
    assert_eq!(first.status, 401, "{first}");
    assert!(first.to_string().contains("no key \"new\""), "{first}");
    assert!(eventually(|| engine
        .decide(&bearer("/orders/1", &token))
        .is_allowed()));
    // More requests with the now known key fetch nothing more.
    for _ in 0..20 {
        assert!(engine.decide(&bearer("/orders/1", &token)).is_allowed());
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(server.fetches(), 2);
    assert_eq!(engine.token_key_fetches(), 2);
}

/// Tokens with the new key keep coming while the fetch they asked for is under way: that one
/// fetch answers all of them, and none asks for another after it.
#[test]
fn tokens_that_arrive_during_a_fetch_ask_for_no_second_one() {
    let (old, new) = (TestKey::ed("old"), TestKey::ed("new"));
    let server = JwksServer::start(jwks(&[&old]));
    let engine = remote_engine(&server, "1s");
    *server.body.lock().unwrap() = Some(jwks(&[&old, &new]));
    server.delay.store(400, Ordering::SeqCst);
    let token = new.sign(&claims(
        json!({ "scope": "orders:write", "tenant": "acme" }),
    ));
    let start = Instant::now();
    let mut refused = 0;
    while !engine.decide(&bearer("/orders/1", &token)).is_allowed() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the new key never came"
        );
        refused += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    // Past `min_interval` after the fetch: a leftover request would have fetched by now.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        refused > 20,
        "only {refused} tokens arrived before the new key"
    );
    assert_eq!(server.fetches(), 2);
}

#[test]
fn random_key_ids_cannot_flood_the_issuer() {
    let key = TestKey::ed("k");
    let server = JwksServer::start(jwks(&[&key]));
    let engine = remote_engine(&server, "1m");
    let good = claims(json!({ "scope": "orders:write", "tenant": "acme" }));
    for i in 0..100 {
        let stranger = TestKey::ed(&format!("random-{i}"));
        assert_eq!(
            engine
                .decide(&bearer("/orders/1", &stranger.sign(&good)))
                .status(),
            401
        );
    }
    // One more fetch at most, even after waiting.
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.fetches() <= 2, "{} fetches", server.fetches());
    assert!(engine
        .decide(&bearer("/orders/1", &key.sign(&good)))
        .is_allowed());
}

#[test]
fn a_failed_fetch_keeps_the_last_good_key_set() {
    let (key, other) = (TestKey::ed("k"), TestKey::ed("other"));
    let server = JwksServer::start(jwks(&[&key]));
    let engine = remote_engine(&server, "1s");
    let good = claims(json!({ "scope": "orders:write", "tenant": "acme" }));
    // The issuer fails; an unknown kid asks for a fetch, which fails.
    *server.body.lock().unwrap() = None;
    assert_eq!(
        engine
            .decide(&bearer("/orders/1", &other.sign(&good)))
            .status(),
        401
    );
    assert!(eventually(|| server.fetches() >= 2));
    std::thread::sleep(Duration::from_millis(100));
    assert!(engine
        .decide(&bearer("/orders/1", &key.sign(&good)))
        .is_allowed());
    // Garbage is no better than a failure.
    *server.body.lock().unwrap() = Some("{\"keys\": 7}".into());
    assert_eq!(
        engine
            .decide(&bearer("/orders/1", &other.sign(&good)))
            .status(),
        401
    );
    assert!(eventually(|| server.fetches() >= 3));
    std::thread::sleep(Duration::from_millis(100));
    assert!(engine
        .decide(&bearer("/orders/1", &key.sign(&good)))
        .is_allowed());
}

#[test]
fn the_harness_signs_test_cases_and_requests() {
    let text = policy(
        "{ url = \"https://id.example.com/jwks.json\" }",
        &format!(
            r#"{ORDERS}
[[tests]]
name = "writer"
request = {{ peer = "192.0.2.1", method = "POST", target = "/orders/7", token_claims = {{ scope = "orders:write", tenant = "acme" }} }}
expect = "allow"
rule = "orders-write"

[[tests]]
name = "reader"
request = {{ peer = "192.0.2.1", method = "POST", target = "/orders/7", token_claims = {{ scope = "orders:read", tenant = "acme" }} }}
expect = "forbid"
status = 403

[[tests]]
name = "expired"
request = {{ peer = "192.0.2.1", method = "POST", target = "/orders/7", token_claims = {{ scope = "orders:write", tenant = "acme", exp = 1000 }} }}
expect = "forbid"
status = 401
"#
        ),
    );
    let policy = Policy::from_toml(&text).unwrap();
    let engine = portcullis::testing::compile(&policy).unwrap();
    let cases = portcullis::testing::policy_cases(&policy, &engine).unwrap();
    let report = portcullis::testing::run(&engine, &cases);
    assert_eq!(
        (report.passed(), report.failed()),
        (3, 0),
        "{:#?}",
        report.results
    );
    let good =
        json!({ "iss": ISS, "aud": "orders-api", "scope": "orders:write", "tenant": "acme" });
    assert!(engine
        .decide(&req("POST /orders/7 from 192.0.2.1").bearer_claims(good.clone()))
        .is_allowed());
    // The harness key is trusted only by engines compiled for tests.
    let real = policy.compile().unwrap();
    assert_eq!(
        real.decide(&req("POST /orders/7 from 192.0.2.1").bearer_claims(good))
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_answer_401_and_403_with_bearer_challenges() {
    use support::{get, start, FRAMEWORKS};
    let dir = Dir::new("adapters");
    let ed = TestKey::ed("e1");
    let file = dir.write("jwks.json", &jwks(&[&ed]));
    let rules = r#"
[[rules]]
name = "orders"
effect = "allow"
when = { path = "/whoami", scope = "orders:write" }
"#;
    let text = policy(&format!("{{ file = {file:?} }}"), rules);
    let writer = ed.sign(&claims(json!({ "scope": "orders:write" })));
    let reader = ed.sign(&claims(json!({ "scope": "orders:read" })));
    let expired = ed.sign(&claims(
        json!({ "scope": "orders:write", "exp": now() - 3600 }),
    ));
    let cases: [(String, u16, Option<&str>); 4] = [
        (format!("Bearer {writer}"), 200, None),
        (
            format!("Bearer {reader}"),
            403,
            Some(r#"Bearer error="insufficient_scope""#),
        ),
        (
            format!("Bearer {expired}"),
            401,
            Some(r#"Bearer error="invalid_token", error_description="the access token expired""#),
        ),
        (String::new(), 401, Some("Bearer")),
    ];
    for fw in FRAMEWORKS {
        let gate = Gate::new(Policy::from_toml(&text).unwrap().compile().unwrap());
        let server = start(fw, gate, "127.0.0.1:0").await;
        for (auth, status, challenge) in &cases {
            let headers: Vec<(&str, &str)> = if auth.is_empty() {
                Vec::new()
            } else {
                vec![("Authorization", auth.as_str())]
            };
            let r = get(server.addr, None, "/whoami", &headers).await;
            assert_eq!(r.status, *status, "{fw:?} {r:?}");
            assert_eq!(r.header("www-authenticate"), *challenge, "{fw:?} {r:?}");
        }
    }
}

/// The handler sees a token's client and roles as it sees an API client's: the gate hands
/// over what the decision read, and a request with neither names nobody.
#[test]
fn the_caller_names_a_tokens_client_and_roles() {
    use portcullis::gate::Outcome;
    use portcullis::AsRequestView;

    let dir = Dir::new("caller");
    let ed = TestKey::ed("e1");
    let file = dir.write("jwks.json", &jwks(&[&ed]));
    let rules = r#"
[[rules]]
name = "any-caller"
effect = "allow"
when = { path = "/api/**", authenticated = true }

[[rules]]
name = "public"
effect = "allow"
when = { path = "/public/**" }
"#;
    let text = policy(&format!("{{ file = {file:?} }}"), rules);
    let gate = Gate::new(Policy::from_toml(&text).unwrap().compile().unwrap());
    let cases = [
        (
            json!({ "client_id": "billing", "roles": ["reader", "writer"] }),
            "/api/x",
            Some("billing"),
            vec!["reader", "writer"],
        ),
        (
            json!({ "roles": "auditor" }),
            "/api/x",
            None,
            vec!["auditor"],
        ),
        (json!({}), "/api/x", None, vec![]),
    ];
    for (extra, path, client, roles) in cases {
        let token = ed.sign(&claims(extra.clone()));
        let request = req(&format!("GET {path} from 192.0.2.1"))
            .header("authorization", format!("Bearer {token}"));
        let Outcome::Pass(caller) = gate.check(&request.view()) else {
            panic!("refused: {extra}");
        };
        assert_eq!(caller.client.as_deref(), client, "{extra}");
        assert_eq!(caller.roles.iter().collect::<Vec<_>>(), roles, "{extra}");
        assert_eq!(caller.rule.as_deref(), Some("any-caller"));
    }
    let Outcome::Pass(anonymous) = gate.check(&req("GET /public/x from 192.0.2.1").view()) else {
        panic!("refused");
    };
    assert_eq!(anonymous.client, None);
    assert!(anonymous.roles.is_empty());
}

/// With `types`, only tokens whose `typ` header is one of them are access tokens (RFC 9068
/// section 4): an ID token of the same issuer, signed by the same key, is refused 401.
#[test]
fn an_issuers_types_keep_id_tokens_out() {
    let dir = Dir::new("types");
    let ed = TestKey::ed("e1");
    let file = dir.write("jwks.json", &jwks(&[&ed]));
    let text = policy(&format!("{{ file = {file:?} }}"), ORDERS).replace(
        "client_claim = \"client_id\"",
        "client_claim = \"client_id\"\ntypes = [\"at+jwt\"]",
    );
    let engine = Policy::from_toml(&text).unwrap().compile().unwrap();
    let body = claims(json!({ "scope": "orders:write", "tenant": "acme" }));
    let sign = |typ: Option<&str>| {
        let mut header = Header::new(ed.alg);
        header.kid = Some(ed.kid.clone());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, &body, &ed.enc).unwrap()
    };
    let cases = [
        (Some("at+jwt"), 200, ""),
        (Some("application/at+jwt"), 200, ""),
        (Some("AT+JWT"), 200, ""),
        (Some("JWT"), 401, r#"typ "JWT" is not "at+jwt""#),
        (Some("id+jwt"), 401, r#"typ "id+jwt" is not "at+jwt""#),
        (None, 401, r#"the token has no typ, not "at+jwt""#),
    ];
    for (typ, status, says) in cases {
        let request = bearer("/orders/7", &sign(typ));
        let verdict = engine.decide(&request);
        let text = engine.explain(&request).to_string();
        assert_eq!(verdict.status(), status, "{typ:?}: {text}");
        assert!(text.contains(says), "{typ:?}: {text}");
    }
    // Without `types`, any `typ` is taken, as before.
    let open = Policy::from_toml(&policy(&format!("{{ file = {file:?} }}"), ORDERS))
        .unwrap()
        .compile()
        .unwrap();
    assert!(open
        .decide(&bearer("/orders/7", &sign(Some("JWT"))))
        .is_allowed());
    // A `typ` that is no media type is a policy error.
    let bad = text.replace("types = [\"at+jwt\"]", "types = [\"at jwt\"]");
    let err = Policy::from_toml(&bad).unwrap().compile().unwrap_err();
    assert!(err.to_string().contains("is not a media type"), "{err}");
}
