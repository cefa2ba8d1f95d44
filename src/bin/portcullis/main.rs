//! The `portcullis` command-line tool: check, explain, test, lint and replay policies.

mod style;

use std::io::{BufRead, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use portcullis::replay::LogFormat;
use portcullis::{Effect, Engine, Policy, PolicyError, Request};
use style::Style;

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
        /// A bearer token, sent in `Authorization: Bearer` and verified against the policy's
        /// issuers (never printed).
        #[arg(long)]
        token: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run the policy's `[[tests]]` and any test files; exit 1 on a failure.
    Test {
        /// The policy file.
        policy: PathBuf,
        /// Extra `*.tests.toml` files.
        files: Vec<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Warn about rules that can never decide, unused names, overlapping lists and more.
    Lint {
        /// The policy file.
        policy: PathBuf,
        /// Exit 1 when there is any warning (for CI).
        #[arg(long)]
        deny_warnings: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Stream an access log through the policy; with --against, list what changes.
    Replay {
        /// The policy file.
        policy: PathBuf,
        /// The access log (`-` for standard input).
        log: PathBuf,
        /// An older policy to compare with.
        #[arg(long)]
        against: Option<PathBuf>,
        /// The log format.
        #[arg(long, value_enum, default_value = "combined")]
        format: Format,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Read an API key from standard input and print the `sha256` entry to paste.
    HashKey {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Combined,
    Json,
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
            token,
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
            if let Some(token) = token {
                if !engine.wait_for_token_keys(std::time::Duration::from_secs(10)) {
                    eprintln!("warning: an issuer's key set could not be fetched in time");
                }
                request = request.header("authorization", format!("Bearer {token}"));
            }
            explain(&engine, &request, json);
            ExitCode::SUCCESS
        }
        Command::Test {
            policy,
            files,
            json,
        } => test(&policy, &files, json),
        Command::Lint {
            policy,
            deny_warnings,
            json,
        } => lint(&policy, deny_warnings, json),
        Command::Replay {
            policy,
            log,
            against,
            format,
            json,
        } => replay(&policy, &log, against.as_deref(), format, json),
        Command::HashKey { json } => hash_key(json),
    }
}

fn test(path: &Path, files: &[PathBuf], json: bool) -> ExitCode {
    let loaded = Policy::from_path(path).and_then(|p| {
        // Test cases' `token_claims` are signed by the harness's own key.
        let engine = portcullis::testing::compile(&p)?;
        let mut cases = portcullis::testing::policy_cases(&p, &engine)?;
        for f in files {
            cases.extend(portcullis::testing::load_cases(f, &engine)?);
        }
        Ok((engine, cases))
    });
    let (engine, cases) = match loaded {
        Ok(x) => x,
        Err(e) => {
            report_error(&e, json);
            return ExitCode::from(2);
        }
    };
    let report = portcullis::testing::run(&engine, &cases);
    if json {
        let out = serde_json::json!({
            "passed": report.passed(),
            "failed": report.failed(),
            "results": report.results,
            "unexercised_rules": report.unexercised,
            "never_decided_rules": report.never_decided,
        });
        println!("{out}");
    } else {
        let s = Style::stdout();
        for r in &report.results {
            let at = r
                .location
                .as_ref()
                .map(|l| format!(" {}", s.dim(&format!("({l})"))))
                .unwrap_or_default();
            match &r.failure {
                None => println!("{} {}{at}", s.green("ok"), r.name),
                Some(f) => println!(
                    "{} {}{at}
  {f}",
                    s.red("FAILED"),
                    r.name
                ),
            }
        }
        if !report.unexercised.is_empty() {
            println!(
                "{} no test exercised: {}",
                s.yellow("coverage:"),
                report.unexercised.join(", ")
            );
        }
        if !report.never_decided.is_empty() {
            println!(
                "{} never decided a test: {}",
                s.yellow("coverage:"),
                report.never_decided.join(", ")
            );
        }
        println!("{} passed, {} failed", report.passed(), report.failed());
    }
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn lint(path: &Path, deny: bool, json: bool) -> ExitCode {
    let warnings = Policy::from_path(path).and_then(|p| {
        let engine = p.compile()?;
        portcullis::lint::lint(&p, &engine)
    });
    let warnings = match warnings {
        Ok(w) => w,
        Err(e) => {
            report_error(&e, json);
            return ExitCode::from(2);
        }
    };
    if json {
        println!("{}", serde_json::json!({ "warnings": warnings }));
    } else {
        let s = Style::stdout();
        for w in &warnings {
            let text = w.to_string();
            println!("{}", text.replacen("warning[", &s.yellow("warning["), 1));
        }
        println!(
            "{} warning{}",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        );
    }
    if deny && !warnings.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn replay(path: &Path, log: &Path, against: Option<&Path>, format: Format, json: bool) -> ExitCode {
    let engines = load(path).and_then(|e| Ok((e, against.map(load).transpose()?)));
    let (engine, old) = match engines {
        Ok(x) => x,
        Err(e) => {
            report_error(&e, json);
            return ExitCode::from(2);
        }
    };
    let reader: Box<dyn BufRead> = if log.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(log) {
            Ok(f) => Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", log.display());
                return ExitCode::from(2);
            }
        }
    };
    let format = match format {
        Format::Combined => LogFormat::Combined,
        Format::Json => LogFormat::Json,
    };
    let show_progress = std::io::stderr().is_terminal() && !json;
    let started = std::time::Instant::now();
    let result = portcullis::replay::replay(reader, format, &engine, old.as_ref(), |n| {
        if show_progress {
            let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r{n} lines, {rate:.0} lines/s");
        }
    });
    if show_progress {
        eprint!("\r\x1b[K");
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: reading `{}`: {e}", log.display());
            return ExitCode::from(2);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["seconds"] = serde_json::json!(seconds);
        println!("{v}");
        return ExitCode::SUCCESS;
    }
    let s = Style::stdout();
    println!(
        "{} lines in {seconds:.2} s ({:.0} lines/s); {} not requests of this format",
        report.lines,
        report.lines as f64 / seconds.max(1e-9),
        report.unparsed.count
    );
    for (outcome, tally) in &report.outcomes {
        let painted = if outcome.starts_with("allow") {
            s.green(outcome)
        } else {
            s.red(outcome)
        };
        println!("{:>10}  {painted}", tally.count);
        for e in &tally.examples {
            println!("{:>10}    {}", "", s.dim(e));
        }
    }
    if report.decided_by_key_rules > 0 {
        println!(
            "note: logs carry no API keys, so every request was replayed as unauthenticated; {} were decided by a rule that reads keys and could be answered otherwise for a caller with one",
            report.decided_by_key_rules
        );
    }
    if old.is_some() {
        println!(
            "{}",
            s.bold(&format!("{} requests change their answer", report.changed))
        );
        for (change, tally) in &report.changes {
            println!("{:>10}  {change}", tally.count);
            for e in &tally.examples {
                println!("{:>10}    {}", "", s.dim(e));
            }
        }
    }
    ExitCode::SUCCESS
}

fn hash_key(json: bool) -> ExitCode {
    let mut key = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut key) {
        eprintln!("error: cannot read standard input: {e}");
        return ExitCode::from(2);
    }
    let key = key.trim_end_matches(['\n', '\r']);
    if key.is_empty() {
        eprintln!(
            "error: no key on standard input (try: printf '%s' \"$KEY\" | portcullis hash-key)"
        );
        return ExitCode::from(2);
    }
    let digest = portcullis::hash_key(key.as_bytes());
    if json {
        println!("{}", serde_json::json!({ "sha256": digest }));
    } else {
        println!("sha256 = [\"{digest}\"]");
    }
    ExitCode::SUCCESS
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
    let s = Style::stderr();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} {e}", s.red("error:"));
    if let (Some(loc), Some(line)) = (e.location(), e.snippet()) {
        // A long line (a minified document) is shown as a window around the column.
        let chars: Vec<char> = line.chars().collect();
        let start = loc.column.saturating_sub(1).saturating_sub(60);
        let end = (start + 120).min(chars.len());
        let mut shown: String = chars.get(start..end).unwrap_or_default().iter().collect();
        let mut column = loc.column.saturating_sub(start);
        if start > 0 {
            shown.insert_str(0, "...");
            column += 3;
        }
        if end < chars.len() {
            shown.push_str("...");
        }
        let (line, loc) = (
            shown,
            portcullis::Location {
                column,
                ..loc.clone()
            },
        );
        let number = loc.line.to_string();
        let pad = " ".repeat(number.len());
        let _ = writeln!(
            err,
            "{pad} |\n{number} | {line}\n{pad} | {}^",
            " ".repeat(loc.column.saturating_sub(1))
        );
    }
}
