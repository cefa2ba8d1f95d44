//! What the two example gateways share: arguments, logging, loading the policy, metrics, the
//! banner, and the self-test.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use portcullis::gate::Gate;
use portcullis::{AsRequestView, Engine, Request};

const USAGE: &str = "\
usage: {name} [--policy FILE] [--listen ADDR] [--self-test] [--no-layer] [--without-caller]

  --policy FILE      the policy to enforce (default examples/policy.toml); reloaded when it or
                     a list file it reads changes, and on SIGHUP
  --listen ADDR      where to listen (default 127.0.0.1:3000)
  --self-test        send the requests the banner suggests, check the answers, and exit
  --no-layer         serve without the policy layer (axum only; to measure what it costs)
  --without-caller   hand no Caller to handlers (axum only; to measure what that costs)
  -h, --help         this text
  -V, --version      the version

Logs go to stdout; RUST_LOG filters them (RUST_LOG=portcullis=debug shows allowed requests).
GET /metrics serves Prometheus metrics (built with the `metrics` feature), to loopback only
under the example policy.";

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), in colour only on a terminal.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(true)
        .init();
}

/// The arguments, or the process ends: with the help or version text (status 0), or with a
/// one-line error (status 2).
pub fn args_or_exit(name: &str) -> Args {
    match args() {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{}", USAGE.replace("{name}", name));
            std::process::exit(0)
        }
        Ok(Parsed::Version) => {
            println!("{name} (portcullis {})", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("{name}: {e}\n(see {name} --help)");
            std::process::exit(2)
        }
    }
}

/// The gate for the policy file, or the process ends with the policy error on stderr.
pub fn gate_or_exit(name: &str, args: &Args) -> Gate {
    match Gate::from_path(&args.policy) {
        Ok(gate) => gate,
        Err(e) => {
            eprintln!("{name}: cannot load the policy: {e}");
            std::process::exit(1)
        }
    }
}

/// Installs the Prometheus recorder, before the gate is built so that it registers its
/// metrics there; the handle renders `GET /metrics`.
#[cfg(feature = "metrics")]
pub fn install_metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!("metrics are off: {e}");
            None
        }
    }
}

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
    /// Whether `policy` is the example policy, whose answers [`EXAMPLES`] lists.
    pub example_policy: bool,
    pub listen: String,
    pub self_test: bool,
    /// Serve the routes without the policy layer (to measure what the layer costs).
    pub no_layer: bool,
    /// Let requests through without handing a `Caller` to the handlers (to measure what that
    /// costs).
    pub without_caller: bool,
}

const EXAMPLE_POLICY: &str = "examples/policy.toml";

pub enum Parsed {
    Run(Args),
    Help,
    Version,
}

fn args() -> Result<Parsed, String> {
    let mut out = Args {
        policy: EXAMPLE_POLICY.into(),
        example_policy: true,
        listen: "127.0.0.1:3000".into(),
        self_test: false,
        no_layer: false,
        without_caller: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--policy" => {
                out.policy = it.next().ok_or("--policy needs a file")?;
                out.example_policy = out.policy == EXAMPLE_POLICY;
            }
            "--listen" => out.listen = it.next().ok_or("--listen needs an address")?,
            "--self-test" => out.self_test = true,
            "--no-layer" => out.no_layer = true,
            "--without-caller" => out.without_caller = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Parsed::Run(out))
}

type Example = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    u16,
);

/// The requests the banner suggests, with the status each gets under the example policy (the
/// banner and the self-test ask the loaded policy; for the example policy the two agree).
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

/// The status the loaded policy gives an example request sent with curl from loopback.
fn expected(engine: &Engine, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = Request::get(path).peer([127, 0, 0, 1].into());
    for (n, v) in headers {
        request = request.header(n.to_ascii_lowercase(), *v);
    }
    engine.decide(&request.view()).status()
}

/// What the server answers and how to try it, for the policy actually loaded.
pub fn banner(name: &str, addr: SocketAddr, policy: &str, engine: &Engine) {
    println!(
        "portcullis example gateway ({name}) on http://{addr}, guarded by {policy} (revision {})",
        engine.revision()
    );
    println!("try:");
    for (what, path, headers, _) in EXAMPLES {
        let mut cmd = String::from("curl -i");
        for (n, v) in *headers {
            cmd.push_str(&format!(" -H '{n}: {v}'"));
        }
        let status = expected(engine, path, headers);
        println!("  # {what}: expect {status}\n  {cmd} 'http://{addr}{path}'");
    }
    #[cfg(feature = "metrics")]
    println!(
        "  # metrics: expect {}\n  curl 'http://{addr}/metrics'",
        expected(engine, "/metrics", &[])
    );
}

/// The body of a GET, over a plain TCP socket.
#[cfg(feature = "metrics")]
fn fetch(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
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

/// Sends every example request (blocking) and reports; an error if any answer was not the one
/// the loaded policy gives, or, under the example policy, not the one listed in [`EXAMPLES`].
pub fn self_test(addr: SocketAddr, engine: &Engine, example_policy: bool) -> Result<(), String> {
    let mut failed = 0;
    for (what, path, headers, listed) in EXAMPLES {
        let want = &expected(engine, path, headers);
        if example_policy && want != listed {
            return Err(format!(
                "{what}: the example policy gives {want}, the list says {listed}"
            ));
        }
        let got = send(addr, path, headers).map_err(|e| format!("{what}: {e}"))?;
        if got != *want {
            failed += 1;
        }
        println!(
            "{}: {what}: got {got}, expected {want}",
            if got == *want { "ok" } else { "FAILED" }
        );
    }
    #[cfg(feature = "metrics")]
    {
        let body = fetch(addr, "/metrics").map_err(|e| format!("metrics: {e}"))?;
        let counted = body.contains("portcullis_decisions_total");
        println!(
            "{}: GET /metrics from loopback serves the decision counters",
            if counted { "ok" } else { "FAILED" }
        );
        if !counted {
            failed += 1;
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} self-test requests failed"))
    }
}
