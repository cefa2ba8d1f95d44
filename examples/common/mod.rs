//! What the two example gateways share: arguments, the banner, and the self-test.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// What the example API answers: who the policy says the caller is.
pub fn api_answer(caller: &portcullis::gate::Caller) -> String {
    format!(
        "api answer for client {} (roles {:?}, address {})\n",
        caller.client.as_deref().unwrap_or("(anonymous)"),
        caller.roles,
        caller
            .client_ip
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
    )
}

pub struct Args {
    pub policy: String,
    pub listen: String,
    pub self_test: bool,
    /// Serve the routes without the policy layer (to measure what the layer costs).
    pub no_layer: bool,
    /// Let requests through without handing a `Caller` to the handlers (to measure what that
    /// costs).
    pub without_caller: bool,
}

pub fn args() -> Result<Args, String> {
    let mut out = Args {
        policy: "examples/policy.toml".into(),
        listen: "127.0.0.1:3000".into(),
        self_test: false,
        no_layer: false,
        without_caller: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--policy" => out.policy = it.next().ok_or("--policy needs a file")?,
            "--listen" => out.listen = it.next().ok_or("--listen needs an address")?,
            "--self-test" => out.self_test = true,
            "--no-layer" => out.no_layer = true,
            "--without-caller" => out.without_caller = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (try --policy FILE, --listen ADDR, --self-test, --no-layer, --without-caller)"
                ))
            }
        }
    }
    Ok(out)
}

type Example = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    u16,
);

/// The requests the banner suggests, with the status each gets under the example policy.
pub const EXAMPLES: &[Example] = &[
    ("an allowed request", "/", &[], 200),
    (
        "a forbidden one (blocklisted address)",
        "/",
        &[("X-Forwarded-For", "192.0.2.7")],
        403,
    ),
    (
        "admin from outside the office, hidden",
        "/admin/users",
        &[],
        404,
    ),
    ("an unauthenticated API call", "/api/orders", &[], 401),
    (
        "a partner with a key",
        "/api/orders",
        &[("X-Api-Key", "partner-demo-key")],
        200,
    ),
    ("a path trick", "/docs/..%2fadmin", &[], 400),
];

pub fn banner(name: &str, addr: SocketAddr, policy: &str) {
    println!("portcullis example gateway ({name}) on http://{addr}, guarded by {policy}");
    println!("try:");
    for (what, path, headers, status) in EXAMPLES {
        let mut cmd = String::from("curl -i");
        for (n, v) in *headers {
            cmd.push_str(&format!(" -H '{n}: {v}'"));
        }
        println!("  # {what}: expect {status}\n  {cmd} 'http://{addr}{path}'");
    }
}

/// One request over a plain TCP socket; returns the status.
fn send(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<u16> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// Sends every example request (blocking) and reports; an error if any answer was wrong.
pub fn self_test(addr: SocketAddr) -> Result<(), String> {
    let mut failed = 0;
    for (what, path, headers, want) in EXAMPLES {
        let got = send(addr, path, headers).map_err(|e| format!("{what}: {e}"))?;
        if got != *want {
            failed += 1;
        }
        println!(
            "{}: {what}: got {got}, expected {want}",
            if got == *want { "ok" } else { "FAILED" }
        );
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} self-test requests failed"))
    }
}
