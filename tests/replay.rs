//! `portcullis replay` end to end: the client the engine would have seen, custom nginx
//! formats, gzip, data-shaped JSON, and the CI options.
#![cfg(feature = "cli")]

mod run_cli;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use run_cli::{json, run, stderr, stdout, temp};

fn line(peer: &str, target: &str, forwarded: &str) -> String {
    format!(
        r#"{peer} - - [25/Nov/2026:10:00:00 +0000] "GET {target} HTTP/1.1" 200 1 "-" "curl/8" "{forwarded}""#
    )
}

/// Behind the trusted proxy 10.0.0.2 (the example trusts 10.0.0.0/8 for X-Forwarded-For).
fn proxied_log() -> String {
    [
        line("10.0.0.2", "/admin/users", "203.0.113.20"),
        line("10.0.0.2", "/admin/users", "198.51.100.7"),
        line("10.0.0.2", "/admin/users", "-"),
        line("198.51.100.9", "/admin/users", "203.0.113.20"),
        line("10.0.0.2", "/admin/users", "nonsense"),
    ]
    .join("\n")
}

#[test]
fn the_client_comes_from_the_forwarded_field_as_client_ip_says() {
    let log = temp("proxied.log", proxied_log());
    let v = json(&run(
        &[
            "replay",
            "examples/policy.toml",
            log.to_str().unwrap(),
            "--json",
        ],
        None,
    ));
    assert_eq!(
        v["clients"],
        serde_json::json!({"untrusted-peer": 1, "proxy-without-forwarded": 1, "forwarded": 2, "unknown": 1}),
        "{v}"
    );
    let by_line = |n: u64| {
        v["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                o["examples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["line"] == n)
            })
            .unwrap_or_else(|| panic!("line {n}: {v}"))
    };
    // From the office through the proxy: allowed, as live.
    assert_eq!(by_line(1)["rule"], "admin", "{v}");
    // From outside through the proxy, the proxy itself, and an untrusted peer: hidden.
    assert_eq!(by_line(2)["rule"], "admin-from-office", "{v}");
    assert_eq!(by_line(2)["status"], 404, "{v}");
    // An unreadable forwarded field is refused, as live.
    assert_eq!(by_line(5)["decision"], "forbidden", "{v}");
    assert!(by_line(5)["refusal"].is_string(), "{v}");

    let text = stdout(&run(
        &["replay", "examples/policy.toml", log.to_str().unwrap()],
        None,
    ));
    for want in [
        "         2  the forwarded field, from a trusted proxy",
        "         1  the logged address (not a trusted proxy, so a forwarded field is not believed)",
        "warning: 1 request came from a trusted proxy and the log has no forwarded field",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

#[test]
fn an_nginx_log_format_reads_host_user_agent_and_forwarded_fields() {
    let policy = temp(
        "hosts.toml",
        r#"
[policy]
default = "allow"
[client_ip]
source = "x-real-ip"
trusted_proxies = ["10.0.0.0/8"]
[[rules]]
name = "internal-host"
effect = "forbid"
when = { host = "internal.example.com" }
unless = { ip = "192.0.2.0/24" }
[[rules]]
name = "no-bots"
effect = "forbid"
when = { user_agent = "*bot*" }
"#,
    );
    let format = r#"$remote_addr [$time_local] $host "$request" $status "$http_user_agent" xri=$http_x_real_ip"#;
    let log = temp(
        "custom.log",
        [
            r#"10.0.0.2 [25/Nov/2026:10:00:00 +0000] internal.example.com "GET / HTTP/1.1" 200 "curl/8" xri=192.0.2.5"#,
            r#"10.0.0.2 [25/Nov/2026:10:00:00 +0000] internal.example.com "GET / HTTP/1.1" 200 "curl/8" xri=198.51.100.5"#,
            r#"10.0.0.2 [25/Nov/2026:10:00:00 +0000] www.example.com "GET / HTTP/1.1" 200 "SomeBot/2" xri=198.51.100.5"#,
            r#"10.0.0.2 [25/Nov/2026:10:00:00 +0000] www.example.com "GET / HTTP/1.1" 200 "curl/8" xri=-"#,
            "not a line of this format",
        ]
        .join("\n"),
    );
    let o = run(
        &[
            "replay",
            policy.to_str().unwrap(),
            log.to_str().unwrap(),
            "--log-format",
            format,
            "--json",
        ],
        None,
    );
    let v = json(&o);
    let outcomes: Vec<(Option<&str>, u64, Vec<u64>)> = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["rule"].as_str(),
                o["count"].as_u64().unwrap(),
                o["examples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["line"].as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (None, 2, vec![1, 4]),
            (Some("internal-host"), 1, vec![2]),
            (Some("no-bots"), 1, vec![3]),
        ],
        "{v}"
    );
    assert_eq!(v["unparsed"]["lines"], serde_json::json!([5]));
    assert_eq!(v["clients"]["forwarded"], 3, "{v}");

    let o = run(
        &[
            "replay",
            policy.to_str().unwrap(),
            log.to_str().unwrap(),
            "--log-format",
            "$request",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no `$remote_addr`"), "{}", stderr(&o));
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_logs_are_read_from_files_and_standard_input() {
    let plain = proxied_log();
    let want = json(&run(
        &[
            "replay",
            "examples/policy.toml",
            temp("p.log", &plain).to_str().unwrap(),
            "--json",
        ],
        None,
    ));
    // Two gzip members back to back, as `cat a.gz b.gz` or rotated logs make.
    let (a, b) = plain.split_at(plain.find('\n').unwrap() + 1);
    let mut both = gzip(a);
    both.extend(gzip(b));
    let gz = temp("p.log.gz", &both);
    for args in [
        vec![
            "replay",
            "examples/policy.toml",
            gz.to_str().unwrap(),
            "--json",
        ],
        vec!["replay", "examples/policy.toml", "-", "--json"],
    ] {
        let mut got = json(&run(&args, Some(&both)));
        let mut want = want.clone();
        got["seconds"] = serde_json::json!(0);
        want["seconds"] = serde_json::json!(0);
        assert_eq!(got, want, "{args:?}");
    }
}

fn against_log() -> std::path::PathBuf {
    temp(
        "against.log",
        [
            line("10.0.0.2", "/admin/users", "203.0.113.20"),
            line("10.0.0.2", "/admin/settings", "203.0.113.21"),
            line("10.0.0.2", "/admin/users", "203.0.113.22"),
            line("10.0.0.2", "/", "198.51.100.1"),
        ]
        .join("\n"),
    )
}

fn stricter_policy() -> std::path::PathBuf {
    let text = std::fs::read_to_string("examples/policy.toml")
        .unwrap()
        .replace("unless = { ip = [\"@office\"] }", "");
    let p = temp("stricter.toml", text);
    std::fs::copy("examples/blocklist.txt", p.with_file_name("blocklist.txt")).unwrap();
    p
}

#[test]
fn changes_are_data_and_fail_ci_when_asked() {
    let (log, newer) = (against_log(), stricter_policy());
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "replay".to_owned(),
            newer.to_str().unwrap().to_owned(),
            log.to_str().unwrap().to_owned(),
            "--against".to_owned(),
            "examples/policy.toml".to_owned(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let call = |extra: &[&'static str]| {
        let a = args(extra);
        run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None)
    };
    let o = call(&["--json", "--examples", "2"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["changed"], 3);
    let change = &v["changes"][0];
    assert_eq!(change["from"]["rule"], "admin", "{v}");
    assert_eq!(change["from"]["decision"], "allow", "{v}");
    assert_eq!(change["to"]["rule"], "admin-from-office", "{v}");
    assert_eq!(change["to"]["status"], 404, "{v}");
    assert_eq!(change["count"], 3, "{v}");
    let lines: Vec<u64> = change["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2], "--examples 2 keeps two: {v}");
    assert!(change["examples"][0].get("explanation").is_none());

    let o = call(&["--json", "--examples", "1", "--explain", "--fail-on-change"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    let e = &v["changes"][0]["examples"];
    assert_eq!(e.as_array().unwrap().len(), 1);
    assert!(
        e[0]["old_explanation"]
            .as_str()
            .unwrap()
            .starts_with("allowed by rule \"admin\""),
        "{v}"
    );
    assert!(
        e[0]["explanation"]
            .as_str()
            .unwrap()
            .starts_with("forbidden (404) by rule \"admin-from-office\""),
        "{v}"
    );
    let text = stdout(&call(&["--explain", "--examples", "1"]));
    assert!(text.contains("was: allowed by rule \"admin\""), "{text}");
    assert!(text.contains("now: forbidden (404)"), "{text}");

    // Against itself nothing changes, and --fail-on-change passes.
    let o = run(
        &[
            "replay",
            "examples/policy.toml",
            log.to_str().unwrap(),
            "--against",
            "examples/policy.toml",
            "--fail-on-change",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 requests change their answer"));
    // No progress bar off a terminal.
    assert_eq!(stderr(&o), "");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly_and_keeps_the_exit_code() {
    let (log, newer) = (against_log(), stricter_policy());
    for (extra, code) in [(None, 0), (Some("--fail-on-change"), 1)] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(["replay", newer.to_str().unwrap(), log.to_str().unwrap()])
            .args(["--against", "examples/policy.toml", "--examples", "100"])
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        // As `| head -1` does: read one line, then close the pipe.
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert!(first.contains("lines in"), "{first}");
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    }
}
