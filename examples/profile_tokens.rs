//! Decides one request many times, with or without a cached bearer token, for an
//! instruction-counting profiler:
//!
//! ```sh
//! cargo build --release --example profile_tokens --features tokens
//! valgrind --tool=callgrind ./target/release/examples/profile_tokens plain 10001
//! valgrind --tool=callgrind ./target/release/examples/profile_tokens token 10001
//! ```
//!
//! `plain` decides the request on a policy without `[tokens]`; `token` decides it with a token
//! this thread verified on the first iteration (RS256, the committed test-only key), so the
//! difference per decision is what a cached token adds.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::{Policy, Request};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let token = match args.next().as_deref() {
        Some("token") => true,
        Some("plain") => false,
        _ => {
            eprintln!("usage: profile_tokens plain|token [COUNT]");
            std::process::exit(2);
        }
    };
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let key =
        EncodingKey::from_rsa_der(include_bytes!("../tests/fixtures/tokens/rsa-test-key.der"));
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some("r".into());
    let dir =
        std::env::temp_dir().join(format!("portcullis-profile-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("jwks.json");
    let set = JwkSet { keys: vec![jwk] };
    std::fs::write(&file, serde_json::to_string(&set).expect("json")).expect("write");
    let text = if token {
        format!(
            "[policy]\ndefault = \"forbid\"\n[tokens.issuers.corp]\nissuer = \"https://id.example.com/\"\n\
             audiences = [\"orders-api\"]\njwks = {{ file = {:?} }}\nalgorithms = [\"RS256\"]\n{RULES}",
            file.display().to_string()
        )
    } else {
        let rules = RULES.replace(
            r#", scope = "orders:write", claim = { tenant = "acme" }"#,
            "",
        );
        format!("[policy]\ndefault = \"forbid\"\n{rules}")
    };
    let engine = match Policy::from_toml(&text).and_then(|p| p.compile()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut request = Request::new("POST", "/orders/7").peer("192.0.2.1".parse().expect("address"));
    if token {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 3600;
        let claims = serde_json::json!({
            "iss": "https://id.example.com/", "aud": "orders-api", "exp": exp, "sub": "user-1",
            "scope": "orders:read orders:write", "tenant": "acme",
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("r".into());
        let t = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let mut allowed = 0u64;
    for _ in 0..count {
        allowed += u64::from(engine.decide(std::hint::black_box(&request)).is_allowed());
    }
    println!("{allowed} of {count} allowed");
}
