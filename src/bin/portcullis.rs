//! The `portcullis` command-line tool: check policies and explain decisions.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis::{Effect, Engine, Policy, PolicyError, Request};

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Check access policies and explain their decisions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and compile a policy; print a summary, or the error with its place.
    Check {
        /// The policy file (.toml, .json, .yaml).
        policy: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Decide one request and explain the decision.
    Explain {
        /// The policy file.
        policy: PathBuf,
        /// The TCP peer address.
        #[arg(long)]
        peer: IpAddr,
        /// The method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The request target exactly as sent: escapes and query included.
        #[arg(long = "path")]
        target: String,
        /// The Host header.
        #[arg(long)]
        host: Option<String>,
        /// A header line, `Name: value`; may repeat, order is kept.
        #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// An API key, sent in the policy's key header (never printed).
        #[arg(long)]
        key: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { policy, json } => check(&policy, json),
        Command::Explain {
            policy,
            peer,
            method,
            target,
            host,
            headers,
            key,
            json,
        } => {
            let engine = match load(&policy) {
                Ok(e) => e,
                Err(e) => {
                    report_error(&e, json);
                    return ExitCode::from(2);
                }
            };
            let mut request = Request::new(method, target).peer(peer);
            if let Some(host) = host {
                request = request.header("host", host);
            }
            for h in &headers {
                let Some((name, value)) = h.split_once(':') else {
                    eprintln!("error: header `{h}` is not of the form `Name: value`");
                    return ExitCode::from(2);
                };
                request = request.header(name.trim(), value.trim_start());
            }
            if let Some(key) = key {
                request = match engine.key_header() {
                    Some(header) => request.header(header, key),
                    None => request.header("authorization", format!("Bearer {key}")),
                };
            }
            explain(&engine, &request, json);
            ExitCode::SUCCESS
        }
    }
}

fn load(path: &std::path::Path) -> Result<Engine, PolicyError> {
    Policy::from_path(path)?.compile()
}

fn check(path: &std::path::Path, json: bool) -> ExitCode {
    let engine = match load(path) {
        Ok(e) => e,
        Err(e) => {
            report_error(&e, json);
            return ExitCode::from(1);
        }
    };
    let s = engine.stats();
    let allow = engine
        .rules()
        .iter()
        .filter(|r| r.effect() == Effect::Allow)
        .count();
    let report = engine
        .rules()
        .iter()
        .filter(|r| r.mode() == portcullis::Mode::Report)
        .count();
    if json {
        let out = serde_json::json!({
            "ok": true,
            "policy": path.display().to_string(),
            "default": engine.default_effect(),
            "combine": engine.combine(),
            "mode": engine.mode(),
            "rules": s.rules,
            "allow_rules": allow,
            "forbid_rules": s.rules - allow,
            "report_rules": report,
            "lists": engine.lists().map(|(n, len)| serde_json::json!({"name": n, "entries": len})).collect::<Vec<_>>(),
            "ipv4_prefixes": s.ipv4_prefixes,
            "ipv6_prefixes": s.ipv6_prefixes,
            "globs": s.globs,
            "clients": engine.clients().collect::<Vec<_>>(),
            "key_digests": s.keys,
        });
        println!("{out}");
    } else {
        let lists: Vec<String> = engine
            .lists()
            .map(|(n, len)| format!("{n} ({len})"))
            .collect();
        println!(
            "{}: ok. {} rules ({} allow, {} forbid, {} in report mode), combined {}, default {}, mode {}; \
             {} lists{}{}, {} IPv4 and {} IPv6 prefixes in all; {} path and host globs; {} API clients with {} key digests.",
            path.display(),
            s.rules,
            allow,
            s.rules - allow,
            report,
            match engine.combine() {
                portcullis::Combine::FirstMatch => "first-match",
                portcullis::Combine::ForbidOverrides => "forbid-overrides",
            },
            engine.default_effect(),
            match engine.mode() {
                portcullis::Mode::Enforce => "enforce",
                portcullis::Mode::Report => "report",
            },
            s.lists,
            if lists.is_empty() { "" } else { ": " },
            lists.join(", "),
            s.ipv4_prefixes,
            s.ipv6_prefixes,
            s.globs,
            s.clients,
            s.keys,
        );
    }
    ExitCode::SUCCESS
}

fn explain(engine: &Engine, request: &Request, json: bool) {
    let explanation = engine.explain(request);
    if json {
        let out = serde_json::json!({
            "decision": explanation.decision,
            "status": explanation.status,
            "rule": explanation.rule_name(),
            "client_ip": explanation.client.ip,
            "reason": explanation.to_string(),
            "enforced": explanation.enforced,
            "explanation": explanation,
        });
        println!("{out}");
    } else {
        println!("{explanation}");
    }
}

/// Prints a policy error like a compiler: the message, the line and a caret under the column.
fn report_error(e: &PolicyError, json: bool) {
    if json {
        let out = serde_json::json!({
            "ok": false,
            "error": {
                "message": e.message(),
                "file": e.file(),
                "line": e.location().map(|l| l.line),
                "column": e.location().map(|l| l.column),
                "rule": e.rule(),
                "display": e.to_string(),
            }
        });
        println!("{out}");
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {e}");
    if let (Some(loc), Some(line)) = (e.location(), e.snippet()) {
        let number = loc.line.to_string();
        let pad = " ".repeat(number.len());
        let _ = writeln!(
            err,
            "{pad} |\n{number} | {line}\n{pad} | {}^",
            " ".repeat(loc.column.saturating_sub(1))
        );
    }
}
