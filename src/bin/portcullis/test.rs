//! `portcullis test`: the policy's `[[tests]]` and test files, with coverage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use portcullis::testing::Report;
use portcullis::Policy;

use crate::common::{plural, report_error};
use crate::style::Style;

/// Run the policy's `[[tests]]` and any test files; exit 1 on a failure.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file.
    policy: PathBuf,
    /// Extra `*.tests.toml` files.
    files: Vec<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let loaded = Policy::from_path(&args.policy).and_then(|p| {
        // Test cases' `token_claims` are signed by the harness's own key.
        let engine = portcullis::testing::compile(&p)?;
        let mut cases = portcullis::testing::policy_cases(&p, &engine)?;
        for f in &args.files {
            cases.extend(portcullis::testing::load_cases(f, &engine)?);
        }
        Ok((engine, cases))
    });
    let (engine, cases) = match loaded {
        Ok(x) => x,
        Err(e) => {
            report_error(&e, args.json);
            return Ok(ExitCode::from(2));
        }
    };
    if cases.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "{} no test ran: the policy has no `[[tests]]` and no test file was given",
            Style::stderr().yellow("warning:")
        );
    }
    let report = portcullis::testing::run(&engine, &cases);
    let rules = engine.rules().len();
    if args.json {
        let out = serde_json::json!({
            "passed": report.passed(),
            "failed": report.failed(),
            "results": report.results,
            "rules": rules,
            "unexercised_rules": report.unexercised,
            "never_decided_rules": report.never_decided,
        });
        outln!("{out}");
    } else {
        let s = Style::stdout();
        for r in &report.results {
            let at = r
                .location
                .as_ref()
                .map(|l| format!(" {}", s.dim(&format!("({l})"))))
                .unwrap_or_default();
            match &r.failure {
                None => outln!("{} {}{at}", s.green("ok"), r.name),
                Some(f) => outln!("{} {}{at}\n  {f}", s.red("FAILED"), r.name),
            }
        }
        if let Some(line) = coverage(&report, rules) {
            outln!("{} {line}", s.yellow("coverage:"));
        }
        outln!("{} passed, {} failed", report.passed(), report.failed());
    }
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One sentence: how many rules decided a test, and which did not (never applied, or
/// applied without deciding). `None` when every rule decided one.
fn coverage(report: &Report, rules: usize) -> Option<String> {
    if report.never_decided.is_empty() {
        return None;
    }
    let applied_only: Vec<&str> = report
        .never_decided
        .iter()
        .filter(|r| !report.unexercised.contains(r))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !report.unexercised.is_empty() {
        parts.push(format!("no test reached {}", report.unexercised.join(", ")));
    }
    if !applied_only.is_empty() {
        parts.push(format!(
            "{} applied but never decided",
            applied_only.join(", ")
        ));
    }
    let decided = rules.saturating_sub(report.never_decided.len());
    Some(format!(
        "{decided} of {} decided a test; {}",
        plural(rules as u64, "rule"),
        parts.join("; ")
    ))
}
