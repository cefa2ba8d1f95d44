//! Attacks on bearer tokens through `portcullis serve`: forged and confused tokens, key-set
//! URLs that only look like loopback, `kid` floods against a key-set URL, and the token cache
//! across a reload. Real servers on loopback; tokens signed with keys made for the run.

mod attack_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use attack_common::{send, Answer, Serve, TempDir};
use ed25519_dalek::{Signer, SigningKey};
use portcullis::Policy;
use serde_json::{json, Value};

/// SHA-256 of the test key `test`.
const TEST_KEY_DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn b64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// An Ed25519 key made for this run.
struct Key {
    kid: &'static str,
    signing: SigningKey,
}

impl Key {
    fn new(kid: &'static str) -> Key {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        Key {
            kid,
            signing: SigningKey::from_bytes(&seed),
        }
    }

    fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    fn jwk(&self) -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "kid": self.kid, "alg": "EdDSA", "x": b64(&self.public()) })
    }

    fn jwks(&self) -> String {
        json!({ "keys": [self.jwk()] }).to_string()
    }

    /// Signs the exact header and payload text (so that duplicate keys survive).
    fn sign_raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = self.signing.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", b64(&sig))
    }

    fn sign(&self, header: Value, payload: Value) -> String {
        self.sign_raw(&header.to_string(), &payload.to_string())
    }

    fn header(&self) -> Value {
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": self.kid })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({
        "iss": "https://corp.example/",
        "aud": "orders-api",
        "exp": now() + 600,
        "scope": "orders:read orders:write",
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn policy(corp_jwks: &str) -> String {
    format!(
        r#"
[policy]
default = "forbid"

[keys.clients.billing]
sha256 = ["{TEST_KEY_DIGEST}"]
roles = ["internal"]

[tokens.issuers.corp]
issuer = "https://corp.example/"
audiences = ["orders-api"]
jwks = {corp_jwks}
algorithms = ["EdDSA"]

[tokens.issuers.partner]
issuer = "https://partner.example/"
audiences = ["orders-api"]
jwks = {{ file = "partner.json" }}
algorithms = ["EdDSA"]

[[rules]]
name = "write"
effect = "allow"
when = {{ path = ["/orders/**"], issuer = ["corp"], scope = ["orders:write"] }}
"#
    )
}

/// A forward-auth check for `POST /orders/1` with `extra` header lines.
fn check(addr: SocketAddr, extra: &str) -> Answer {
    send(
        addr,
        &format!(
            "GET /check HTTP/1.1\nHost: portcullis\nX-Forwarded-Method: POST\nX-Forwarded-Uri: /orders/1\n\
             X-Forwarded-Host: api.example.com\nX-Forwarded-For: 192.0.2.1{extra}"
        ),
    )
}

fn bearer(addr: SocketAddr, token: &str) -> Answer {
    check(addr, &format!("\nAuthorization: Bearer {token}"))
}

/// A loopback HTTP server that answers every GET with `body` and counts the requests.
struct KeyServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl KeyServer {
    fn start(body: String) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let count = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes());
            }
        });
        KeyServer { addr, hits }
    }
}

/// Forged, confused and malformed tokens, each with the status and `WWW-Authenticate` it
/// must get. These held when the suite was written; the table pins them.
#[test]
fn hostile_tokens() {
    let corp = Key::new("corp-1");
    let partner = Key::new("partner-1");
    let attacker = Key::new("corp-1");
    let dir = TempDir::new("attack-tokens");
    dir.write("corp.json", &corp.jwks());
    dir.write("partner.json", &partner.jwks());
    // A key set the attacker serves on loopback: a token naming it must never make the
    // server fetch it.
    let rogue = KeyServer::start(attacker.jwks());
    let serve = Serve::policy(&dir, &policy(r#"{ file = "corp.json" }"#));

    let h = corp.header();
    let c = claims();
    let public_as_secret = {
        // HS256 with the issuer's public key as the HMAC secret.
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("corp-1".to_owned());
        jsonwebtoken::encode(
            &header,
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&corp.public()).unwrap(),
        )
        .unwrap()
    };
    let x_as_secret = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("corp-1".to_owned());
        jsonwebtoken::encode(
            &header,
            &c,
            &jsonwebtoken::EncodingKey::from_secret(b64(&corp.public()).as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let unsigned = |alg: &str| {
        format!(
            "{}.{}.",
            b64(json!({ "alg": alg, "kid": "corp-1" })
                .to_string()
                .as_bytes()),
            b64(c.to_string().as_bytes())
        )
    };
    let exp = c["exp"].as_u64().unwrap();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("valid", corp.sign(h.clone(), c.clone()), 200, ""),
        ("valid, no kid (one key fits)", corp.sign(json!({ "alg": "EdDSA" }), c.clone()), 200, ""),
        ("aud as an array holding ours", corp.sign(h.clone(), with(c.clone(), json!({ "aud": ["x", "orders-api"] }))), 200, ""),
        ("scp array instead of scope", corp.sign(h.clone(), with(c.clone(), json!({ "scope": null, "scp": ["orders:write"] }))), 200, ""),
        ("scope lacking orders:write", corp.sign(h.clone(), with(c.clone(), json!({ "scope": "orders:read" }))), 403, "insufficient_scope"),
        ("scope as an array (not a string)", corp.sign(h.clone(), with(c.clone(), json!({ "scope": ["orders:write"] }))), 403, "insufficient_scope"),
        ("expired", corp.sign(h.clone(), with(c.clone(), json!({ "exp": now() - 3600 }))), 401, "expired"),
        ("no exp", corp.sign(h.clone(), with(c.clone(), json!({ "exp": null }))), 401, "invalid_token"),
        ("exp as a string", corp.sign(h.clone(), with(c.clone(), json!({ "exp": exp.to_string() }))), 401, "invalid_token"),
        ("exp as a float", corp.sign(h.clone(), with(c.clone(), json!({ "exp": exp as f64 + 0.5 }))), 401, "invalid_token"),
        ("exp beyond u64", corp.sign_raw(&h.to_string(), &c.to_string().replace(&exp.to_string(), "1e30")), 401, "invalid_token"),
        ("nbf in an hour", corp.sign(h.clone(), with(c.clone(), json!({ "nbf": now() + 3600 }))), 401, "not valid yet"),
        ("nbf as a string", corp.sign(h.clone(), with(c.clone(), json!({ "nbf": (now() + 3600).to_string() }))), 401, "invalid_token"),
        ("another audience", corp.sign(h.clone(), with(c.clone(), json!({ "aud": "billing-api" }))), 401, "invalid_token"),
        ("unknown issuer", corp.sign(h.clone(), with(c.clone(), json!({ "iss": "https://corp.example" }))), 401, "invalid_token"),
        ("alg none", unsigned("none"), 401, "invalid_token"),
        ("alg None", unsigned("None"), 401, "invalid_token"),
        ("HS256 keyed with the public key", public_as_secret, 401, "invalid_token"),
        ("HS256 keyed with the JWK's x", x_as_secret, 401, "invalid_token"),
        ("the issuer's kid, the attacker's key", attacker.sign(h.clone(), c.clone()), 401, "invalid_token"),
        ("the attacker's key embedded as jwk", attacker.sign(with(h.clone(), json!({ "jwk": attacker.jwk() })), c.clone()), 401, "invalid_token"),
        ("jku naming the attacker's key set", attacker.sign(with(h.clone(), json!({ "jku": format!("http://{}/jwks.json", rogue.addr) })), c.clone()), 401, "invalid_token"),
        ("x5u naming the attacker", attacker.sign(with(h.clone(), json!({ "x5u": format!("http://{}/cert.pem", rogue.addr) })), c.clone()), 401, "invalid_token"),
        ("kid as a path", corp.sign(with(h.clone(), json!({ "kid": "../../../../dev/null" })), c.clone()), 401, "invalid_token"),
        ("crit naming an unknown extension", corp.sign(with(h.clone(), json!({ "crit": ["x-bind"], "x-bind": 1 })), c.clone()), 401, "invalid_token"),
        ("partner key, corp iss", partner.sign(json!({ "alg": "EdDSA", "kid": "partner-1" }), c.clone()), 401, "invalid_token"),
        ("partner key, corp iss, no kid", partner.sign(json!({ "alg": "EdDSA" }), c.clone()), 401, "invalid_token"),
        ("valid partner token (rule wants corp)", partner.sign(json!({ "alg": "EdDSA", "kid": "partner-1" }), with(c.clone(), json!({ "iss": "https://partner.example/" }))), 403, ""),
        ("duplicate iss: partner then corp, partner key", partner.sign_raw(r#"{"alg":"EdDSA","kid":"partner-1"}"#, &format!(r#"{{"iss":"https://corp.example/","aud":"orders-api","exp":{exp},"scope":"orders:write","iss":"https://partner.example/"}}"#)), 401, "invalid_token"),
        ("duplicate alg in the header", corp.sign_raw(r#"{"alg":"none","kid":"corp-1","alg":"EdDSA"}"#, &c.to_string()), 401, "invalid_token"),
        ("a signature cut short", { let t = corp.sign(h.clone(), c.clone()); t[..t.len() - 4].to_owned() }, 401, "invalid_token"),
        ("four parts", format!("{}.x", corp.sign(h.clone(), c.clone())), 401, "invalid_token"),
        ("a token over max_token_bytes", corp.sign(h.clone(), with(c.clone(), json!({ "pad": "a".repeat(9000) }))), 401, "invalid_token"),
    ];
    let mut wrong = Vec::new();
    for (label, token, status, www) in &cases {
        let answer = bearer(serve.addr, token);
        let auth = answer.header("www-authenticate").join(" | ");
        if answer.status != *status || !auth.contains(www) {
            wrong.push(format!(
                "{label}: got {} {auth:?}, want {status} with {www:?}",
                answer.status
            ));
        }
        // The refusal never echoes the token, nor any part of its signature.
        let sig = token.rsplit('.').next().unwrap_or_default();
        if sig.len() > 8 && (answer.head.contains(sig) || answer.body.contains(sig)) {
            wrong.push(format!("{label}: the answer echoes the token"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        rogue.hits.load(Ordering::SeqCst),
        0,
        "a token made the server fetch its jku/x5u"
    );

    // How credentials combine.
    let good = corp.sign(h.clone(), c.clone());
    let other = corp.sign(
        h.clone(),
        with(c.clone(), json!({ "scope": "orders:write" })),
    );
    let combos: Vec<(&str, String, u16)> = vec![
        ("no credentials", String::new(), 401),
        (
            "lower-case scheme",
            format!("\nAuthorization: bearer {good}"),
            200,
        ),
        (
            "the same token twice",
            format!("\nAuthorization: Bearer {good}\nAuthorization: Bearer {good}"),
            200,
        ),
        (
            "two different tokens",
            format!("\nAuthorization: Bearer {good}\nAuthorization: Bearer {other}"),
            400,
        ),
        (
            "two tokens in one line",
            format!("\nAuthorization: Bearer {good},{other}"),
            400,
        ),
        (
            "a token and an API key",
            format!("\nAuthorization: Bearer {good}\nX-Api-Key: test"),
            400,
        ),
        (
            "a token and an underscore API key",
            format!("\nAuthorization: Bearer {good}\nX_Api_Key: test"),
            400,
        ),
    ];
    for (label, extra, want) in combos {
        let answer = check(serve.addr, &extra);
        assert_eq!(answer.status, want, "{label}: {answer:?}");
    }
}

/// `http` key-set URLs must go to this machine: a prefix check let through URLs whose host,
/// as the HTTP client reads it, is elsewhere (`http://localhost@evil.example/`), so a
/// network attacker could serve the key set and sign any token. These URLs name `0.0.0.0`,
/// which stays on this machine if anything is fetched.
#[test]
fn key_set_urls_that_only_look_like_loopback_do_not_compile() {
    for url in [
        "http://localhost@0.0.0.0:9/jwks.json",
        "http://127.0.0.1@0.0.0.0:9/jwks.json",
        "http://127.0.0.1:9@0.0.0.0:9/jwks.json",
        "http://[::1]:9@0.0.0.0:9/jwks.json",
        "http://0.0.0.0:9/jwks.json",
    ] {
        let text = policy(&format!(r#"{{ url = "{url}" }}"#)).replace(
            "jwks = { file = \"partner.json\" }",
            "jwks = { url = \"https://partner.example/jwks.json\" }",
        );
        let compiled = Policy::from_toml(&text).and_then(|p| p.compile());
        assert!(compiled.is_err(), "{url} compiled");
    }
    for url in [
        "http://127.0.0.1:9/jwks.json",
        "http://localhost:9/jwks.json",
        "http://[::1]:9/jwks.json",
    ] {
        let text = policy(&format!(r#"{{ url = "{url}" }}"#)).replace(
            "jwks = { file = \"partner.json\" }",
            &format!("jwks = {{ url = \"{url}\" }}"),
        );
        let compiled = Policy::from_toml(&text).and_then(|p| p.compile());
        assert!(compiled.is_ok(), "{url}: {:?}", compiled.err());
    }
}

/// Tokens with random key ids ask for an early fetch of the key set, never more than one per
/// `min_interval`; and a token verified under one policy is not taken from the cache after a
/// reload that changed the issuer's audiences.
#[test]
fn kid_flood_and_cache_across_a_reload() {
    let corp = Key::new("corp-1");
    let partner = Key::new("partner-1");
    let keys = KeyServer::start(corp.jwks());
    let dir = TempDir::new("attack-tokens-url");
    dir.write("partner.json", &partner.jwks());
    let url = format!(
        r#"{{ url = "http://{}/jwks.json", refresh = "1h", min_interval = "1h" }}"#,
        keys.addr
    );
    let serve = Serve::policy(&dir, &policy(&url));
    let good = corp.sign(corp.header(), claims());
    let deadline = Instant::now() + Duration::from_secs(10);
    while bearer(serve.addr, &good).status != 200 {
        assert!(Instant::now() < deadline, "the key set was never fetched");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = keys.hits.load(Ordering::SeqCst);
    for i in 0..200 {
        let kid = format!("random-{i}");
        let token = corp.sign(json!({ "alg": "EdDSA", "kid": kid }), claims());
        assert_eq!(bearer(serve.addr, &token).status, 401, "{kid}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let fetched = keys.hits.load(Ordering::SeqCst) - before;
    assert!(fetched <= 1, "{fetched} fetches for 200 unknown key ids");
    assert_eq!(bearer(serve.addr, &good).status, 200);

    // The same token after a reload that no longer accepts its audience.
    let path = dir.0.join("policy.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("[\"orders-api\"]", "[\"other-api\"]", 1),
    )
    .unwrap();
    serve.server.gate().reload().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = bearer(serve.addr, &good).status;
        if status == 401 {
            break;
        }
        // The new engine fetches its key set first; until then the token is refused too.
        assert!(Instant::now() < deadline, "still {status} after the reload");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..20 {
        assert_eq!(bearer(serve.addr, &good).status, 401);
    }
}
