//! Bearer-token cost: `cargo bench --bench tokens --features tokens`.
//!
//! - `decide/without-token` and `decide/cached-token`: the same request and rules, without
//!   `[tokens]` and with a token this thread has verified before; the difference is what a
//!   cached token adds to a decision.
//! - `first-sight/RS256` and `first-sight/EdDSA`: a token never seen before, so one signature
//!   verification (tokens cycle through more than the per-thread cache holds).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::{Engine, Policy, Request};

const RULES: &str = r#"
[[rules]]
name = "public"
effect = "allow"
when = { path = "/public/**" }

[[rules]]
name = "orders-write"
effect = "allow"
when = { path = "/orders/**", method = "POST", scope = "orders:write", claim = { tenant = "acme" } }
"#;

fn engine(jwks: Option<&str>) -> Engine {
    let tokens = match jwks {
        Some(file) => format!(
            r#"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["orders-api"]
jwks = {{ file = {file:?} }}
algorithms = ["RS256", "EdDSA"]
"#
        ),
        None => String::new(),
    };
    let rules = if jwks.is_some() {
        RULES.to_owned()
    } else {
        RULES.replace(
            r#", scope = "orders:write", claim = { tenant = "acme" }"#,
            "",
        )
    };
    let text = format!("[policy]\ndefault = \"forbid\"\n{tokens}\n{rules}");
    Policy::from_toml(&text)
        .and_then(|p| p.compile())
        .expect("bench policy")
}

fn keys() -> (EncodingKey, EncodingKey, String) {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let rsa =
        EncodingKey::from_rsa_der(include_bytes!("../tests/fixtures/tokens/rsa-test-key.der"));
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("randomness");
    let pair = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: seed,
        public_key: None,
    };
    let ed = EncodingKey::from_ed_der(pair.to_pkcs8_der().expect("der").as_bytes());
    let jwk = |k: &EncodingKey, alg, kid: &str| {
        let mut j = Jwk::from_encoding_key(k, alg).expect("jwk");
        j.common.key_id = Some(kid.to_owned());
        j
    };
    let set = JwkSet {
        keys: vec![
            jwk(&rsa, Algorithm::RS256, "r"),
            jwk(&ed, Algorithm::EdDSA, "e"),
        ],
    };
    (rsa, ed, serde_json::to_string(&set).expect("json"))
}

fn sign(key: &EncodingKey, alg: Algorithm, kid: &str, n: usize) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        + 3600;
    let claims = serde_json::json!({
        "iss": "https://id.example.com/", "aud": "orders-api", "exp": exp, "sub": "user-1",
        "scope": "orders:read orders:write", "tenant": "acme", "jti": n,
    });
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

fn tokens(c: &mut Criterion) {
    let (rsa, ed, set) = keys();
    let dir = std::env::temp_dir().join(format!("portcullis-bench-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("jwks.json");
    std::fs::write(&file, set).expect("write");
    let with = engine(Some(&file.display().to_string()));
    let without = engine(None);
    let _ = std::fs::remove_dir_all(&dir);
    let peer = "192.0.2.1".parse().expect("address");
    let plain = Request::new("POST", "/orders/7").peer(peer);
    let token = sign(&rsa, Algorithm::RS256, "r", 0);
    let bearer = plain
        .clone()
        .header("authorization", format!("Bearer {token}"));
    assert!(without.decide(&plain).is_allowed());
    assert!(with.decide(&bearer).is_allowed());

    let mut g = c.benchmark_group("decide");
    g.bench_function("without-token", |b| {
        b.iter(|| black_box(without.decide(black_box(&plain))))
    });
    g.bench_function("cached-token", |b| {
        b.iter(|| black_box(with.decide(black_box(&bearer))))
    });
    g.finish();

    let mut g = c.benchmark_group("first-sight");
    g.sample_size(30);
    for (name, key, alg, kid) in [
        ("RS256", &rsa, Algorithm::RS256, "r"),
        ("EdDSA", &ed, Algorithm::EdDSA, "e"),
    ] {
        // More distinct tokens than one thread caches, so every decision verifies one.
        let requests: Vec<Request> = (1..=1500)
            .map(|n| {
                let t = sign(key, alg, kid, n);
                plain.clone().header("authorization", format!("Bearer {t}"))
            })
            .collect();
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                black_box(with.decide(black_box(&requests[i])))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
