//! nginx (`auth_request`) and Caddy (`forward_auth`) started in front of a backend, with the
//! configuration files of `deploy/` changed only in their ports: the same table of requests
//! through each.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::support::{
    backend, free_port, installed, send, spawn, start, wait_for_port, Guard, Seen, TempDir, KEY,
};

/// What a request through the proxy must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// 200 from the backend.
    Allow,
    /// The verdict's status (nginx answers 400 and 404 as 403).
    Status(u16),
    /// Refused with some 4xx (the proxy may refuse it itself), the backend not reached.
    Refused,
}

struct Row {
    what: &'static str,
    method: &'static str,
    target: &'static str,
    headers: &'static [(&'static str, &'static str)],
    want: Want,
}

const KEYED: &[(&str, &str)] = &[("X-Api-Key", KEY)];

fn rows() -> Vec<Row> {
    use Want::*;
    let row = |what, method, target, headers, want| Row {
        what,
        method,
        target,
        headers,
        want,
    };
    vec![
        row("public", "GET", "/public/a?x=1", &[], Allow),
        row("wrong method", "POST", "/public/a", &[], Status(403)),
        row("default forbid", "GET", "/private", &[], Status(403)),
        row("hidden admin", "GET", "/admin/x", &[], Status(404)),
        row(
            "spoofed X-Forwarded-For",
            "GET",
            "/admin/x",
            &[("X-Forwarded-For", "203.0.113.5")],
            Status(404),
        ),
        row(
            "spoofed X-Real-IP",
            "GET",
            "/admin/x",
            &[("X-Real-IP", "203.0.113.5")],
            Status(404),
        ),
        row("no key", "GET", "/api/orders", &[], Status(401)),
        row("key", "GET", "/api/orders", KEYED, Allow),
        row(
            "spoofed identity",
            "GET",
            "/public/a",
            &[
                ("X-Portcullis-Client", "billing"),
                ("X-Portcullis-Roles", "ops"),
            ],
            Allow,
        ),
        row(
            "spoofed X-Original-URI",
            "GET",
            "/admin/x",
            &[("X-Original-URI", "/public/a")],
            Refused,
        ),
        row(
            "spoofed X-Forwarded-Uri",
            "GET",
            "/admin/x",
            &[
                ("X-Forwarded-Uri", "/public/a"),
                ("X-Forwarded-Method", "GET"),
            ],
            Refused,
        ),
        row(
            "encoded dot segment",
            "GET",
            "/public/%2e%2e/admin/x",
            &[],
            Refused,
        ),
        row("encoded slash", "GET", "/public/..%2Fadmin/x", &[], Refused),
        row("empty segment", "GET", "/public//a", &[], Refused),
        row("path parameter", "GET", "/public/a;x=1", &[], Refused),
        row(
            "scraper",
            "GET",
            "/public/a",
            &[("User-Agent", "scrapy/2")],
            Status(403),
        ),
    ]
}

/// Sends every row through the proxy at `proxy` and checks the answer and what reached the
/// backend.
fn run_table(proxy: SocketAddr, seen: &Arc<Mutex<Vec<Seen>>>, nginx: bool) {
    for row in rows() {
        let before = seen.lock().unwrap().len();
        let reply = send(proxy, None, row.method, row.target, row.headers);
        let reached: Vec<Seen> = seen.lock().unwrap()[before..].to_vec();
        let context = format!(
            "{} {} {}: {reply:?} {reached:?}",
            row.what, row.method, row.target
        );
        match row.want {
            Want::Allow => {
                assert_eq!(reply.status, 200, "{context}");
                assert_eq!(reply.body, "backend", "{context}");
                assert_eq!(reached.len(), 1, "{context}");
                let got = &reached[0];
                assert_eq!(
                    (got.method.as_str(), got.target.as_str()),
                    (row.method, row.target),
                    "{context}"
                );
                let client = got.headers.get("x-portcullis-client").map(String::as_str);
                let roles = got.headers.get("x-portcullis-roles").map(String::as_str);
                if row.headers == KEYED {
                    assert_eq!(client, Some("billing"), "{context}");
                    assert_eq!(roles, Some("internal,ops"), "{context}");
                    assert_eq!(got.headers.get("x-api-key").map(String::as_str), Some(KEY));
                } else {
                    // Whatever the client sent, no identity reaches the backend (Caddy 2.6
                    // copies the empty headers portcullis sends; nginx drops them).
                    assert_eq!(
                        (client.unwrap_or(""), roles.unwrap_or("")),
                        ("", ""),
                        "{context}"
                    );
                }
            }
            Want::Status(status) => {
                let status = if nginx && matches!(status, 400 | 404) {
                    403
                } else {
                    status
                };
                assert_eq!(reply.status, status, "{context}");
                assert!(reached.is_empty(), "{context}");
                if status == 401 {
                    assert!(reply.header("www-authenticate").is_some(), "{context}");
                }
            }
            Want::Refused => {
                assert!((400..500).contains(&reply.status), "{context}");
                assert!(reached.is_empty(), "{context}");
            }
        }
    }
}

/// A deploy file with its example ports swapped for the test's; every swap must apply, so
/// that the file and the test cannot drift apart.
fn templated(file: &str, swaps: &[(&str, String)]) -> String {
    let path = format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in swaps {
        assert!(text.contains(from), "{file} no longer holds `{from}`");
        text = text.replace(from, to);
    }
    text
}

#[test]
fn nginx_auth_request() {
    let Some(nginx) = installed("nginx") else {
        return;
    };
    let s = start(None);
    let (app, seen) = backend(&s.runtime);
    let dir = TempDir::new("nginx");
    let port = free_port();
    let site = templated(
        "nginx.conf",
        &[
            ("listen 8080;", format!("listen 127.0.0.1:{port};")),
            ("127.0.0.1:9090", s.http.to_string()),
            ("127.0.0.1:8081", app.to_string()),
        ],
    );
    std::fs::write(dir.0.join("site.conf"), site).unwrap();
    let d = dir.0.display();
    let main = format!(
        "pid {d}/nginx.pid;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
    );
    std::fs::write(dir.0.join("nginx.conf"), main).unwrap();
    let log = dir.0.join("error.log");
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(dir.0.join("nginx.conf"))
        .arg("-e")
        .arg(&log)
        .args(["-g", "daemon off; master_process off;"]);
    let mut guard: Guard = spawn(command, &log);
    let proxy: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_for_port(proxy, &mut guard.0, &log);
    run_table(proxy, &seen, true);
}

#[test]
fn caddy_forward_auth() {
    let Some(caddy) = installed("caddy") else {
        return;
    };
    let s = start(None);
    let (app, seen) = backend(&s.runtime);
    let dir = TempDir::new("caddy");
    let port = free_port();
    let caddyfile = templated(
        "Caddyfile",
        &[
            // The port, and loopback only for the test.
            (
                "http://:8080 {",
                format!("http://:{port} {{\n\tbind 127.0.0.1"),
            ),
            ("127.0.0.1:9090", s.http.to_string()),
            ("127.0.0.1:8081", app.to_string()),
        ],
    );
    let file = dir.0.join("Caddyfile");
    std::fs::write(&file, caddyfile).unwrap();
    let log = dir.0.join("caddy.log");
    let mut command = Command::new(caddy);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", &dir.0)
        .env("XDG_CONFIG_HOME", &dir.0)
        .env("XDG_DATA_HOME", &dir.0);
    let mut guard = spawn(command, &log);
    let proxy: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_for_port(proxy, &mut guard.0, &log);
    run_table(proxy, &seen, false);
}
