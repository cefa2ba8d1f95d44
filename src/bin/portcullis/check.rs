//! `portcullis check`: parse and compile a policy, and summarise it.

use std::path::PathBuf;
use std::process::ExitCode;

use portcullis::{Combine, Effect, Mode};

use crate::common::{count, load, plural, report_error};

/// Parse and compile a policy; print a summary, or the error with its place.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file (.toml, .json, .yaml).
    policy: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let path = &args.policy;
    let engine = match load(path) {
        Ok(e) => e,
        Err(e) => {
            report_error(&e, args.json);
            return Ok(ExitCode::from(1));
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
        .filter(|r| r.mode() == Mode::Report)
        .count();
    if args.json {
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
            "warnings": engine.warnings(),
        });
        outln!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let lists: Vec<String> = engine
        .lists()
        .map(|(n, len)| format!("{n} ({len})"))
        .collect();
    let n = |x: usize| x as u64;
    outln!(
        "{}: ok. {} ({} allow, {} forbid, {} in report mode), combined {}, default {}, mode {}; \
         {}{}{}, {} IPv4 and {} IPv6 {} in all; {}; {} with {}.",
        path.display(),
        plural(n(s.rules), "rule"),
        allow,
        s.rules - allow,
        report,
        match engine.combine() {
            Combine::FirstMatch => "first-match",
            Combine::ForbidOverrides => "forbid-overrides",
        },
        engine.default_effect(),
        match engine.mode() {
            Mode::Enforce => "enforce",
            Mode::Report => "report",
        },
        plural(n(s.lists), "list"),
        if lists.is_empty() { "" } else { ": " },
        lists.join(", "),
        s.ipv4_prefixes,
        s.ipv6_prefixes,
        if s.ipv4_prefixes + s.ipv6_prefixes == 1 {
            "prefix"
        } else {
            "prefixes"
        },
        count(n(s.globs), "path or host glob", "path and host globs"),
        plural(n(s.clients), "API client"),
        plural(n(s.keys), "key digest"),
    );
    // What the policy compiled despite (list lines skipped under `on_invalid = "skip"`).
    let style = crate::style::Style::stderr();
    for w in engine.warnings() {
        eprintln!("{} {w}", style.yellow("warning:"));
    }
    Ok(ExitCode::SUCCESS)
}
