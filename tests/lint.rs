//! `portcullis lint` end to end: the mistake warnings, every list overlap at its line,
//! suppression with reasons, and the shipped example passing `--deny-warnings`.
#![cfg(feature = "cli")]

mod run_cli;

use run_cli::{json, run, stdout};

#[test]
fn the_shipped_example_passes_deny_warnings() {
    // The command the README gives.
    let o = run(&["lint", "examples/policy.toml", "--deny-warnings"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o), "0 warnings (3 accepted by `lint.allow`)\n");
    let v = json(&run(&["lint", "examples/policy.toml", "--json"], None));
    assert_eq!(v["warnings"], serde_json::json!([]));
    let accepted: Vec<(&str, &str)> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["code"].as_str().unwrap(), s["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        accepted,
        [
            ("trusted-overlap", "metrics-from-loopback"),
            ("trusted-overlap", "metrics-from-loopback"),
            ("report-mode", "no-scrapers"),
        ]
    );
    assert!(v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["reason"].as_str().is_some_and(|r| !r.is_empty())));
}

#[test]
fn the_classic_glob_mistakes_are_warned_about_at_their_value() {
    let v = json(&run(
        &["lint", "tests/fixtures/lint/mistakes.toml", "--json"],
        None,
    ));
    let found: Vec<(String, String, u64, u64)> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap().to_owned(),
                w["rule"].as_str().unwrap().to_owned(),
                w["location"]["line"].as_u64().unwrap(),
                w["location"]["column"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("path-star-stops-at-slash", "admin", 7, 29),
        ("user-agent-without-wildcard", "no-scripts", 12, 23),
        ("path-star-stops-at-slash", "api-host", 17, 43),
    ];
    assert_eq!(found.len(), want.len(), "{v}");
    for (got, (code, rule, line, column)) in found.iter().zip(want) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str(), got.2, got.3),
            (code, rule, line, column),
            "{v}"
        );
    }
    let text = stdout(&run(&["lint", "tests/fixtures/lint/mistakes.toml"], None));
    assert!(
        text.contains("write `/admin/**`, or `/admin{,/**}`"),
        "{text}"
    );
    assert!(text.contains("write `*python-requests*`"), "{text}");
    assert!(text.ends_with("3 warnings\n"), "{text}");
}

#[test]
fn a_host_written_as_a_url_is_explained_before_the_compile_error() {
    let o = run(&["lint", "tests/fixtures/lint/host-url.toml"], None);
    assert_eq!(o.status.code(), Some(2));
    let text = stdout(&o);
    assert!(
        text.contains("tests/fixtures/lint/host-url.toml:7:17: warning[host-looks-like-url]"),
        "{text}"
    );
    assert!(text.contains("write `api.example.com`"), "{text}");
}

#[test]
fn every_list_overlap_is_reported_at_its_line_in_the_list_file() {
    let o = run(
        &[
            "lint",
            "tests/fixtures/lint/list-overlap-file.toml",
            "--json",
        ],
        None,
    );
    let v = json(&o);
    let overlaps: Vec<(String, u64, String)> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "list-overlap")
        .map(|w| {
            (
                w["location"]["file"].as_str().unwrap().to_owned(),
                w["location"]["line"].as_u64().unwrap(),
                w["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        (
            4,
            "`10.1.0.0/16` is inside `10.0.0.0/8` (line 2) [overlap 1 of 4]",
        ),
        (
            5,
            "`10.1.2.0/24` is inside `10.1.0.0/16` (line 4) [overlap 2 of 4]",
        ),
        (
            7,
            "`192.0.2.0/24` repeats `192.0.2.0/24` (line 3) [overlap 3 of 4]",
        ),
        (
            8,
            "`2001:db8:1::/48` is inside `2001:db8::/32` (line 6) [overlap 4 of 4]",
        ),
    ];
    assert_eq!(overlaps.len(), want.len(), "{v}");
    for ((file, line, message), (want_line, want_message)) in overlaps.iter().zip(want) {
        assert!(file.ends_with("overlaps.txt"), "{file}");
        assert_eq!(*line, want_line, "{message}");
        assert!(message.ends_with(want_message), "{message}");
    }
}

#[test]
fn an_inline_list_reports_each_overlap_at_its_entry() {
    let policy = run_cli::temp(
        "inline-overlaps.toml",
        "[policy]\ndefault = \"allow\"\n[lists]\nnets = [\n  \"10.0.0.0/8\",\n  \"10.9.0.0/16\",\n  \"192.0.2.1\",\n  \"192.0.2.1/32\",\n]\n[[rules]]\nname = \"n\"\neffect = \"forbid\"\nwhen = { ip = \"@nets\" }\n",
    );
    let v = json(&run(&["lint", policy.to_str().unwrap(), "--json"], None));
    let lines: Vec<u64> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["location"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6, 8], "{v}");
}

#[test]
fn suppression_needs_a_known_code_and_a_reason() {
    let o = run(
        &[
            "lint",
            "tests/fixtures/lint/suppressed.toml",
            "--json",
            "--deny-warnings",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    let codes = |key: &str| -> Vec<(String, Option<String>)> {
        let mut out: Vec<_> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["code"].as_str().unwrap().to_owned(),
                    w["rule"].as_str().map(str::to_owned),
                )
            })
            .collect();
        out.sort();
        out
    };
    let s = |c: &str, r: Option<&str>| (c.to_owned(), r.map(str::to_owned));
    // By the rule's own allow, and by the policy's (which covers every rule and the lists).
    assert_eq!(
        codes("suppressed"),
        [
            s("report-mode", None),
            s("report-mode", Some("trial")),
            s("status-401-without-auth", Some("admin")),
            s("unused-list", None),
        ],
        "{v}"
    );
    // An unknown code and an empty reason are warnings, and an empty reason accepts nothing.
    assert_eq!(
        codes("warnings"),
        [
            s("allow-without-reason", Some("legacy")),
            s("path-star-stops-at-slash", Some("legacy")),
            s("unknown-lint", Some("admin")),
        ],
        "{v}"
    );
    let reasons: Vec<&str> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"the backend asks for a password"), "{v}");
}

#[test]
fn an_allow_without_a_reason_field_is_a_parse_error() {
    let policy = run_cli::temp(
        "no-reason.toml",
        "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"x\"\neffect = \"forbid\"\nmode = \"report\"\nlint = { allow = [\"report-mode\"] }\n",
    );
    let o = run(&["lint", policy.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        run_cli::stderr(&o).contains("missing field `reason`"),
        "{}",
        run_cli::stderr(&o)
    );
}

#[test]
#[cfg(feature = "tokens")]
fn lint_reads_no_key_set_and_fetches_nothing() {
    // One issuer's key set is a file that is not there, the other's a URL on a loopback
    // port that is listening: `check` needs both, lint neither.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = run_cli::temp(
        "unread-key-sets.toml",
        format!(
            r#"[policy]
default = "forbid"
[tokens.issuers.files]
issuer = "https://files.example/"
audiences = ["api"]
jwks = {{ file = "no-such-key-set.json" }}
algorithms = ["RS256"]
[tokens.issuers.remote]
issuer = "https://remote.example/"
audiences = ["api"]
jwks = {{ url = "http://127.0.0.1:{port}/jwks.json" }}
algorithms = ["ES256"]
[[rules]]
name = "readers"
effect = "allow"
when = {{ issuer = "files", scope = "read" }}
"#
        ),
    );
    let path = policy.to_str().unwrap();
    let o = run(&["lint", path, "--deny-warnings"], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        run_cli::stderr(&o)
    );
    // The lint process has ended: a fetch it had started would be waiting here.
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "lint connected to the key-set URL"
    );

    let o = run(&["check", path], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        run_cli::stderr(&o).contains("no-such-key-set.json"),
        "{}",
        run_cli::stderr(&o)
    );
}
