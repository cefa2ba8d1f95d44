#![cfg(feature = "cli")]
//! Policy tooling end to end: tests beside the policy, lint, replay, hash-key, and the Rust
//! test helpers.

mod run_cli;

use run_cli::{run, stdout as out, temp};

use portcullis::testing::req;
use portcullis::{assert_allows, assert_forbids, Policy};

fn engine() -> portcullis::Engine {
    Policy::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy.toml"))
        .unwrap()
        .compile()
        .unwrap()
}

#[test]
fn assertions_pass_and_fail_with_the_explanation() {
    let e = engine();
    assert_allows!(e, req("GET / from 198.51.100.7"), rule = "public-site");
    assert_forbids!(
        e,
        req("GET /admin/x from 198.51.100.7"),
        rule = "admin-from-office",
        status = 404
    );
    assert_forbids!(e, req("GET /a/../b from 198.51.100.7"), status = 400);

    let failure = std::panic::catch_unwind(|| {
        assert_allows!(engine(), req("GET /admin/x from 198.51.100.7"))
    });
    let message = *failure.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("expected allow, got forbidden"),
        "{message}"
    );
    assert!(
        message.contains(r#"forbidden (404) by rule "admin-from-office""#),
        "{message}"
    );
    assert!(
        message.contains(r#"client 198.51.100.7 is not in list "office""#),
        "{message}"
    );

    let failure = std::panic::catch_unwind(|| {
        assert_forbids!(
            engine(),
            req("GET / from 198.51.100.7"),
            rule = "blocklisted"
        )
    });
    let message = *failure.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains(r#"expected rule "blocklisted" to decide, got "public-site""#),
        "{message}"
    );
}

#[test]
fn test_command_runs_cases_and_reports_coverage() {
    let o = run(
        &["test", "examples/policy.toml", "examples/policy.tests.toml"],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    assert!(text.lines().last() == Some("12 passed, 0 failed"), "{text}");
    assert!(
        text.contains("coverage: 9 of 10 rules decided a test; no test reached no-scrapers\n"),
        "{text}"
    );

    let failing = temp(
        "failing.tests.toml",
        "[[tests]]\nname = \"wrong on purpose\"\nrequest = { peer = \"198.51.100.7\", target = \"/admin/x\" }\nexpect = \"allow\"\n",
    );
    let o = run(
        &["test", "examples/policy.toml", failing.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert!(text.contains("FAILED wrong on purpose"), "{text}");
    assert!(
        text.contains("explanation: forbidden (404) by rule \"admin-from-office\""),
        "{text}"
    );
    assert!(text.ends_with("3 passed, 1 failed\n"), "{text}");

    let o = run(
        &[
            "test",
            "examples/policy.toml",
            failing.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["passed"].as_u64(), v["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(v["results"][3]["passed"], false);
    // Without the second file, the rules only it exercises are reported.
    let unexercised: Vec<&str> = v["unexercised_rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        unexercised.contains(&"health") && unexercised.contains(&"no-scrapers"),
        "{unexercised:?}"
    );
    assert!(!unexercised.contains(&"public-site"), "{unexercised:?}");

    let bad = temp("bad.tests.toml", "[[tests]]\nname = \"x\"\nrequest = { peer = \"nope\", target = \"/\" }\nexpect = \"allow\"\n");
    let o = run(
        &["test", "examples/policy.toml", bad.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.tests.toml:3:"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn lint_fires_on_each_fixture_and_not_on_the_clean_one() {
    let cases = [
        ("shadowed", "api-v2-from-office"),
        ("after-catch-all", "too-late"),
        ("never-wins", "partners"),
        ("unused", ""),
        ("list-overlap", ""),
        ("trusted-overlap", "admin-from-office"),
        ("status-401", "admin"),
        ("report-mode", "trial"),
    ];
    for (code, rule) in cases {
        let file = format!("tests/fixtures/lint/{code}.toml");
        let o = run(&["lint", &file, "--json"], None);
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let warnings = v["warnings"].as_array().unwrap();
        let hit = warnings.iter().find(|w| {
            w["code"]
                .as_str()
                .is_some_and(|c| c.starts_with(code.split('-').next().unwrap()))
        });
        let hit = hit.unwrap_or_else(|| panic!("{code}: {v}"));
        if !rule.is_empty() {
            assert_eq!(hit["rule"], rule, "{code}: {v}");
        }
        assert!(hit["location"]["line"].as_u64().is_some(), "{code}: {v}");
        let o = run(&["lint", &file, "--deny-warnings"], None);
        assert_eq!(o.status.code(), Some(1), "{code}");
        assert!(
            out(&o).contains(&format!("warning[{}", code.split('-').next().unwrap())),
            "{code}: {}",
            out(&o)
        );
    }
    let o = run(
        &["lint", "tests/fixtures/lint/clean.toml", "--deny-warnings"],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(out(&o), "0 warnings\n");
}

#[test]
fn lint_never_calls_a_rule_shadowed_that_can_decide() {
    // With `on_unknown = "evaluate"`, `quarantine` decides for clients whose address cannot be
    // read (ip conditions hold in forbid rules for them), though `internal` covers its CIDR.
    let text = r#"
[policy]
default = "allow"
[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["192.0.2.10"]
on_unknown = "evaluate"
[[rules]]
name = "internal"
effect = "allow"
when = { ip = "10.0.0.0/8" }
[[rules]]
name = "quarantine"
effect = "forbid"
when = { ip = "10.66.0.0/16" }
"#;
    let policy = Policy::from_toml(text).unwrap();
    let engine = policy.compile().unwrap();
    let warnings = portcullis::lint::lint(&policy, &engine).unwrap();
    assert!(
        warnings.iter().all(|w| w.code != "shadowed"),
        "{warnings:?}"
    );
    let unknown = portcullis::Request::get("/")
        .peer("192.0.2.10".parse().unwrap())
        .header("x-forwarded-for", "garbage");
    assert_forbids!(engine, unknown, rule = "quarantine");
    // Without it, the same pair is shadowed.
    let strict = Policy::from_toml(&text.replace("on_unknown = \"evaluate\"", "")).unwrap();
    let warnings = portcullis::lint::lint(&strict, &strict.compile().unwrap()).unwrap();
    assert!(
        warnings.iter().any(|w| w.code == "shadowed"),
        "{warnings:?}"
    );
}

#[test]
fn expecting_the_default_does_not_pass_for_a_refusal() {
    let e = engine();
    let expect = portcullis::testing::Expectation {
        decision: portcullis::Decision::Forbidden,
        rule: Some("default".into()),
        status: None,
    };
    let err =
        portcullis::testing::check(&e, &req("GET /a/../b from 198.51.100.7"), &expect).unwrap_err();
    assert!(
        err.contains("got \"refused: the path holds a dot segment\""),
        "{err}"
    );
    // References work too.
    let r = req("GET / from 198.51.100.7");
    assert_allows!(e, &r);
}

#[test]
fn hash_key_reads_stdin_and_prints_the_entry() {
    let o = run(&["hash-key"], Some(b"abc\n"));
    assert!(o.status.success());
    assert_eq!(
        out(&o),
        "sha256 = [\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"]\n"
    );
    let o = run(&["hash-key", "--json"], Some(b"abc"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let o = run(&["hash-key"], Some(b""));
    assert_eq!(o.status.code(), Some(2));
}

/// A combined-format log of `n` lines cycling through a few requests, one unparseable line.
fn log(n: usize) -> String {
    let lines = [
        r#"198.51.100.7 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "Mozilla/5.0""#,
        r#"198.51.100.7 - - [25/Nov/2026:10:00:01 +0000] "GET /admin/users HTTP/1.1" 404 0 "-" "curl/8""#,
        r#"203.0.113.20 - - [25/Nov/2026:10:00:02 +0000] "GET /admin/users HTTP/1.1" 200 99 "-" "Mozilla/5.0""#,
        r#"192.0.2.44 - - [25/Nov/2026:10:00:03 +0000] "GET /docs/intro HTTP/1.1" 403 0 "-" "python-requests/2""#,
        r#"198.51.100.8 - - [25/Nov/2026:10:00:04 +0000] "GET /api/orders HTTP/1.1" 200 5 "-" "Mozilla/5.0""#,
        r#"198.51.100.9 - - [25/Nov/2026:10:00:05 +0000] "GET /static/..%2fadmin HTTP/1.1" 400 0 "-" "-""#,
    ];
    let mut out = String::with_capacity(n * 110);
    for i in 0..n {
        out.push_str(lines[i % lines.len()]);
        out.push('\n');
    }
    out.push_str("this line is not a request\n");
    out
}

#[test]
fn replay_counts_per_rule_and_lists_changes() {
    let n = 100_002;
    let path = temp("access.log", log(n));
    let o = run(
        &[
            "replay",
            "examples/policy.toml",
            path.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["lines"], (n + 1) as u64);
    assert_eq!(v["unparsed"]["count"], 1);
    let each = (n / 6) as u64;
    // Outcomes are data: the decision, status, rule or refusal, count and examples.
    let count = |rule: Option<&str>, refusal: Option<&str>, status: u64| {
        let found = v["outcomes"].as_array().unwrap().iter().find(|o| {
            o["rule"].as_str() == rule && o["refusal"].as_str() == refusal && o["status"] == status
        });
        found.unwrap_or_else(|| panic!("{rule:?} {refusal:?} {status}: {v}"))["count"].clone()
    };
    assert_eq!(count(Some("public-site"), None, 200), each);
    assert_eq!(count(Some("admin"), None, 200), each);
    assert_eq!(count(Some("admin-from-office"), None, 404), each);
    assert_eq!(count(Some("blocklisted"), None, 403), each);
    assert_eq!(count(Some("api-needs-key"), None, 401), each);
    assert_eq!(
        count(None, Some("the path holds an encoded `/`"), 400),
        each
    );
    let public = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule"] == "public-site")
        .unwrap();
    assert_eq!(public["decision"], "allow");
    assert_eq!(
        public["examples"],
        serde_json::json!([{"line": 1, "request": "198.51.100.7 GET /"}])
    );
    assert_eq!(v["unparsed"]["lines"], serde_json::json!([n + 1]));
    assert_eq!(v["decided_by_key_rules"], each);

    // Against a policy without the office exemption, office admins change their answer.
    let text = std::fs::read_to_string("examples/policy.toml")
        .unwrap()
        .replace("unless = { ip = [\"@office\"] }", "");
    let newer = temp("policy.toml", &text);
    std::fs::copy(
        "examples/blocklist.txt",
        newer.with_file_name("blocklist.txt"),
    )
    .unwrap();
    let o = run(
        &[
            "replay",
            newer.to_str().unwrap(),
            path.to_str().unwrap(),
            "--against",
            "examples/policy.toml",
        ],
        None,
    );
    assert!(o.status.success());
    let text = out(&o);
    assert!(
        text.contains(&format!("{each} requests change their answer")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "skipped 1 line that is not a request of this format (line {})",
            n + 1
        )),
        "{text}"
    );
    assert!(
        text.contains("allow by rule \"admin\" -> forbidden (404) by rule \"admin-from-office\""),
        "{text}"
    );
    assert!(text.contains("203.0.113.20 GET /admin/users"), "{text}");
    assert!(text.contains("replayed as unauthenticated"), "{text}");
}

#[test]
fn replay_reads_json_lines() {
    let path = temp(
        "access.jsonl",
        "{\"remote_addr\":\"198.51.100.7\",\"request\":\"GET / HTTP/1.1\"}\n{\"client_ip\":\"192.0.2.44\",\"method\":\"GET\",\"uri\":\"/\"}\n",
    );
    let o = run(
        &[
            "replay",
            "examples/policy.toml",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<(&str, u64)> = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["rule"].as_str().unwrap(), o["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(rules, [("public-site", 1), ("blocklisted", 1)], "{v}");
}
