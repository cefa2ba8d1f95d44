//! The command-line tool, end to end on the built binary.
#![cfg(feature = "cli")]

mod run_cli;

use std::process::{Command, Output};

use run_cli::{stderr, stdout};

fn run(args: &[&str]) -> Output {
    run_cli::run(args, None)
}

fn bad_policy(test: &str) -> std::path::PathBuf {
    let path = run_cli::scratch().join(format!("{test}.toml"));
    std::fs::write(&path, "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"net\"\neffect = \"forbid\"\nwhen = { ip = [\"10.1.2.3/8\"] }\n").unwrap();
    path
}

#[test]
fn check_summarises_a_good_policy() {
    let o = run(&["check", "examples/policy.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("examples/policy.toml: ok. 10 rules"),
        "{out}"
    );
    assert!(
        out.contains("blocklist (3)") && out.contains("2 API clients"),
        "{out}"
    );

    let o = run(&["check", "examples/policy.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["rules"], 10);
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

#[test]
fn check_counts_in_the_singular_and_plural() {
    let path = run_cli::scratch().join("one.toml");
    std::fs::write(
        &path,
        "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"one\"\neffect = \"allow\"\nwhen = { path = \"/\", ip = \"192.0.2.1\" }\n",
    )
    .unwrap();
    let out = stdout(&run(&["check", path.to_str().unwrap()]));
    assert!(
        out.contains(": ok. 1 rule (1 allow, 0 forbid, 0 in report mode)"),
        "{out}"
    );
    assert!(out.contains("0 lists, 1 IPv4 and 0 IPv6 prefix in all; 1 path or host glob; 0 API clients with 0 key digests."), "{out}");
    std::fs::remove_file(path).ok();
}

#[test]
fn explain_exit_code_says_forbidden_for_scripts() {
    let base = ["explain", "examples/policy.toml", "--peer", "198.51.100.7"];
    let cases = [
        ("/", false, 0),
        ("/", true, 0),
        ("/admin/users", false, 0),
        ("/admin/users", true, 1),
        ("/a/%2e%2e/admin", true, 1),
    ];
    for (path, flag, code) in cases {
        let mut args = base.to_vec();
        args.extend(["--path", path]);
        if flag {
            args.push("--exit-code");
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stdout(&o));
        assert!(!stdout(&o).is_empty());
    }
}

#[test]
fn test_warns_when_it_ran_no_test() {
    let path = run_cli::scratch().join("untested.toml");
    std::fs::write(&path, "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"a\"\neffect = \"allow\"\nwhen = { path = \"/\" }\n").unwrap();
    let o = run(&["test", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains(
            "warning: no test ran: the policy has no `[[tests]]` and no test file was given"
        ),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).ends_with("0 passed, 0 failed\n"),
        "{}",
        stdout(&o)
    );
    // With tests, no warning.
    let o = run(&["test", "examples/policy.toml"]);
    assert_eq!(stderr(&o), "");
    std::fs::remove_file(path).ok();
}

#[test]
fn completions_and_the_man_page_cover_every_subcommand() {
    let subcommands = [
        "check",
        "explain",
        "test",
        "lint",
        "replay",
        "diff",
        "hash-key",
        "completions",
    ];
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let out = stdout(&o);
        for sub in subcommands {
            assert!(out.contains(sub), "{shell} lacks {sub}");
        }
        assert!(out.contains("fail-on-change"), "{shell}");
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
    let o = run(&["man"]);
    assert!(o.status.success());
    let page = stdout(&o);
    assert!(
        page.starts_with(".ie") || page.contains(".TH portcullis"),
        "{page}"
    );
    for sub in subcommands {
        let roff = sub.replace('-', "\\-");
        assert!(
            page.contains(&format!("portcullis\\-{roff}(1)")),
            "the man page lacks {sub}"
        );
        let o = run(&["man", sub]);
        assert!(o.status.success(), "{sub}");
        assert!(
            stdout(&o).contains(&format!(".TH portcullis-{sub} 1")),
            "{sub}: {}",
            stdout(&o)
        );
    }
    assert!(stdout(&run(&["man", "diff"])).contains("fail\\-on\\-change"));
    assert_eq!(run(&["man", "nonsense"]).status.code(), Some(2));
}

#[test]
fn no_subcommand_panics_on_a_closed_pipe() {
    use std::io::Read;
    let cases: &[&[&str]] = &[
        &["man"],
        &["completions", "bash"],
        &["check", "examples/policy.toml", "--json"],
        &["test", "examples/policy.toml", "examples/policy.tests.toml"],
        &[
            "diff",
            "examples/policy.toml",
            "tests/fixtures/lint/clean.toml",
        ],
    ];
    for args in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(*args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        let mut out = child.stdout.take().unwrap();
        out.read_exact(&mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
        assert!(
            o.status.code().is_some_and(|c| c < 2),
            "{args:?}: {:?}",
            o.status
        );
    }
}

/// `explain --token` verifies against the policy's key set and never prints the token;
/// `test` signs `token_claims` with the harness's own key.
#[cfg(feature = "tokens")]
#[test]
fn explain_and_test_read_bearer_tokens() {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let dir = run_cli::scratch().join("tokens");
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
