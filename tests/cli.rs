//! The command-line tool, end to end on the built binary.
#![cfg(feature = "cli")]

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn bad_policy(test: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("portcullis-cli-{}-{test}.toml", std::process::id()));
    std::fs::write(&path, "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"net\"\neffect = \"forbid\"\nwhen = { ip = [\"10.1.2.3/8\"] }\n").unwrap();
    path
}

#[test]
fn check_summarises_a_good_policy() {
    let o = run(&["check", "examples/policy.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("examples/policy.toml: ok. 9 rules"),
        "{out}"
    );
    assert!(
        out.contains("blocklist (3)") && out.contains("2 API clients"),
        "{out}"
    );

    let o = run(&["check", "examples/policy.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["rules"], 9);
    assert_eq!(v["clients"], serde_json::json!(["acme", "billing"]));
}

#[test]
fn check_reports_errors_with_a_caret_and_exit_1() {
    let path = bad_policy("check");
    let p = path.to_str().unwrap();
    let o = run(&["check", p]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(":6:16: rule \"net\": CIDR `10.1.2.3/8` has host bits set"),
        "{err}"
    );
    assert!(
        err.contains("6 | when = { ip = [\"10.1.2.3/8\"] }"),
        "{err}"
    );
    assert!(err.contains("  |                ^"), "{err}");

    let o = run(&["check", p, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["line"], 6);
    assert_eq!(v["error"]["column"], 16);
    assert_eq!(v["error"]["rule"], "net");
    std::fs::remove_file(path).ok();
}

#[test]
fn explain_prints_the_story() {
    let o = run(&[
        "explain",
        "examples/policy.toml",
        "--peer",
        "10.0.0.1",
        "-H",
        "X-Forwarded-For: 198.51.100.7",
        "--path",
        "/admin/users?page=2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("forbidden (404) by rule \"admin-from-office\" (examples/policy.toml:"),
        "{out}"
    );
    assert!(
        out.contains("client 198.51.100.7 is not in list \"office\""),
        "{out}"
    );
}

#[test]
fn explain_json_has_the_documented_shape() {
    let cases: &[(&[&str], &str, u64, serde_json::Value, serde_json::Value)] = &[
        (
            &["--peer", "203.0.113.9", "--path", "/"],
            "allow",
            200,
            serde_json::json!("public-site"),
            serde_json::json!("203.0.113.9"),
        ),
        (
            &[
                "--peer",
                "198.51.100.1",
                "--path",
                "/api/x",
                "--key",
                "billing-demo-key",
                "--method",
                "POST",
            ],
            "allow",
            200,
            serde_json::json!("internal-api"),
            serde_json::json!("198.51.100.1"),
        ),
        (
            &["--peer", "198.51.100.1", "--path", "/api/x"],
            "forbidden",
            401,
            serde_json::json!("api-needs-key"),
            serde_json::json!("198.51.100.1"),
        ),
        (
            &["--peer", "198.51.100.1", "--path", "/a/%2e%2e/admin"],
            "forbidden",
            400,
            serde_json::Value::Null,
            serde_json::json!("198.51.100.1"),
        ),
        (
            &[
                "--peer",
                "10.0.0.1",
                "--path",
                "/",
                "-H",
                "X-Forwarded-For: 1.2.3.4, nonsense",
            ],
            "forbidden",
            403,
            serde_json::Value::Null,
            serde_json::Value::Null,
        ),
    ];
    for (args, decision, status, rule, client) in cases {
        let mut all = vec!["explain", "examples/policy.toml", "--json"];
        all.extend_from_slice(args);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?} {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["decision"], *decision, "{args:?}");
        assert_eq!(v["status"], *status, "{args:?}");
        assert_eq!(v["rule"], *rule, "{args:?}");
        assert_eq!(v["client_ip"], *client, "{args:?}");
        assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(
            !stdout(&o).contains("billing-demo-key"),
            "the key must never be printed"
        );
    }
}

#[test]
fn explain_usage_and_policy_errors_exit_2() {
    let o = run(&[
        "explain",
        "examples/policy.toml",
        "--peer",
        "not-an-ip",
        "--path",
        "/",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["explain", "examples/policy.toml", "--peer", "192.0.2.1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "explain",
        "examples/policy.toml",
        "--peer",
        "192.0.2.1",
        "--path",
        "/",
        "-H",
        "no colon",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let path = bad_policy("explain");
    let o = run(&[
        "explain",
        path.to_str().unwrap(),
        "--peer",
        "192.0.2.1",
        "--path",
        "/",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has host bits set"));
    std::fs::remove_file(path).ok();
}

/// `explain --token` verifies against the policy's key set and never prints the token;
/// `test` signs `token_claims` with the harness's own key.
#[cfg(feature = "tokens")]
#[test]
fn explain_and_test_read_bearer_tokens() {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let dir = std::env::temp_dir().join(format!("portcullis-cli-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = EncodingKey::from_rsa_der(include_bytes!("fixtures/tokens/rsa-test-key.der"));
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("r1".into());
    let set = JwkSet { keys: vec![jwk] };
    std::fs::write(dir.join("jwks.json"), serde_json::to_string(&set).unwrap()).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        r#"[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["orders-api"]
jwks = { file = "jwks.json" }
algorithms = ["RS256"]
[[rules]]
name = "writers"
effect = "allow"
when = { path = "/orders/**", scope = "orders:write" }
[[tests]]
name = "writer"
request = { peer = "192.0.2.1", target = "/orders/1", token_claims = { scope = "orders:write" } }
expect = "allow"
[[tests]]
name = "reader"
request = { peer = "192.0.2.1", target = "/orders/1", token_claims = { scope = "orders:read" } }
expect = "forbid"
status = 403
"#,
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |exp: u64| {
        let claims = serde_json::json!({
            "iss": "https://id.example.com/", "aud": "orders-api", "exp": exp,
            "scope": "orders:write",
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("r1".into());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let path = policy.display().to_string();
    for (exp, says) in [
        (now + 600, "allowed by rule \"writers\""),
        (now - 600, "token expired 10 min ago"),
    ] {
        let token = sign(exp);
        let o = run(&[
            "explain",
            &path,
            "--peer",
            "192.0.2.1",
            "--path",
            "/orders/1",
            "--token",
            &token,
        ]);
        let out = stdout(&o);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(out.contains(says), "{out}");
        let signature = token.rsplit('.').next().unwrap();
        assert!(!out.contains(signature) && !stderr(&o).contains(signature));
    }
    let o = run(&["test", &path]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
