//! `portcullis serve` as a process: listening addresses, health, readiness, metrics, SIGHUP
//! reloads, SIGTERM shutdown and JSON logs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{send, Guard, TempDir, POLICY};

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn check(http: SocketAddr, uri: &str) -> u16 {
    send(
        http,
        None,
        "GET",
        "/check",
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", uri),
            ("X-Forwarded-Host", "shop.example"),
            ("X-Forwarded-For", "192.0.2.9"),
        ],
    )
    .status
}

#[test]
fn serve_process_lifecycle() {
    let dir = TempDir::new("process");
    let policy = dir.0.join("policy.toml");
    std::fs::copy(POLICY, &policy).unwrap();
    let stderr = dir.0.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .arg(&policy)
        .args(["--listen", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .args(["--log-format", "json", "--no-watch", "--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let guard = Guard(child);
    let mut addr = |kind: &str| -> SocketAddr {
        let line = lines
            .next()
            .expect("the server printed no address")
            .unwrap();
        let rest = line
            .strip_prefix(&format!("listening {kind} "))
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        rest.parse().unwrap()
    };
    let http = addr("http");
    let _grpc = addr("grpc");

    let reply = send(http, None, "GET", "/healthz", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(send(http, None, "GET", "/readyz", &[]).status, 200);
    assert_eq!(check(http, "/public/a"), 200);
    assert_eq!(check(http, "/private"), 403);

    // Prometheus text, with what the server itself records.
    let metrics = send(http, None, "GET", "/metrics", &[]);
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        metrics
            .body
            .contains("# TYPE portcullis_serve_checks_total counter"),
        "{}",
        metrics.body
    );
    let line = metrics
        .body
        .lines()
        .find(|l| {
            l.starts_with("portcullis_serve_checks_total{")
                && l.contains("protocol=\"forward-auth\"")
                && l.contains("answer=\"deny\"")
        })
        .unwrap_or_else(|| panic!("no deny counter in {}", metrics.body));
    assert!(line.ends_with(" 1"), "{line}");

    // SIGHUP reloads; a policy that does not compile keeps the old one.
    std::fs::write(&policy, "[policy]\ndefault = \"allow\"\n").unwrap();
    signal(pid, "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while check(http, "/private") != 200 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the policy"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&policy, "[policy]\ndefault = \"maybe\"\n").unwrap();
    signal(pid, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(check(http, "/private"), 200);

    // SIGTERM: a clean exit.
    signal(pid, "TERM");
    let mut guard = guard;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");

    // Every log line is one JSON object; the reloads and the refusal are there.
    let log = std::fs::read_to_string(&stderr).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let message = |v: &serde_json::Value| v["fields"]["message"].as_str().unwrap_or("").to_owned();
    assert!(
        events
            .iter()
            .any(|e| message(e).contains("policy reloaded")),
        "{log}"
    );
    assert!(
        events.iter().any(|e| message(e).contains("reload failed")),
        "{log}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["decision"] == "forbidden" && e["target"] == "portcullis"),
        "{log}"
    );
    assert!(
        events.iter().any(|e| message(e).contains("shutting down")),
        "{log}"
    );
}

#[test]
fn serve_reloads_when_the_file_changes() {
    let dir = TempDir::new("watch");
    let policy = dir.0.join("policy.toml");
    std::fs::copy(POLICY, &policy).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .arg(&policy)
        // One thread: the single-threaded runtime (the lifecycle test runs two).
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "error",
            "--threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _guard = Guard(child);
    let line = lines.next().unwrap().unwrap();
    let http: SocketAddr = line
        .strip_prefix("listening http ")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(check(http, "/private"), 403);
    // Written beside and renamed over, as editors and configuration tools do.
    let staged = dir.0.join("policy.toml.new");
    std::fs::write(&staged, "[policy]\ndefault = \"allow\"\n").unwrap();
    std::fs::rename(&staged, &policy).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while check(http, "/private") != 200 {
        assert!(
            Instant::now() < deadline,
            "the changed file was not reloaded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_refuses_a_bad_policy_at_start() {
    let dir = TempDir::new("bad-policy");
    let policy = dir.0.join("policy.toml");
    std::fs::write(&policy, "[policy]\ndefault = \"maybe\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .arg(&policy)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot load the policy"));
}

#[test]
fn serve_refuses_zero_threads() {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .arg(POLICY)
        .args(["--listen", "127.0.0.1:0", "--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads"));
}
