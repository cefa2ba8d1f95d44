//! `portcullis lint`: what a valid policy says that its author probably did not mean.

use std::path::PathBuf;
use std::process::ExitCode;

use portcullis::lint::{lint_report, mistakes, LintReport, Warning};
use portcullis::Policy;

use crate::common::{plural, report_error};
use crate::style::Style;

/// Warn about rules that can never decide, glob mistakes, unused names, overlapping lists and
/// more; `lint = { allow = [...], reason = "..." }` accepts a warning.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file.
    policy: PathBuf,
    /// Exit 1 when there is any warning (for CI).
    #[arg(long)]
    deny_warnings: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let policy = match Policy::from_path(&args.policy) {
        Ok(p) => p,
        Err(e) => {
            report_error(&e, args.json);
            return Ok(ExitCode::from(2));
        }
    };
    // Like `test` and `diff`, lint reads no issuer's key set (the engine trusts a key of its
    // own): it needs no network and no key file, and `check` is what loads them.
    let report = match portcullis::testing::compile(&policy).and_then(|e| lint_report(&policy, &e))
    {
        Ok(r) => r,
        Err(e) => {
            // A mistake lint knows (a host written as a URL) says what was meant before the
            // compile error says why it cannot work.
            if !args.json {
                print(&mistakes(&policy))?;
            }
            report_error(&e, args.json);
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        outln!("{}", serde_json::to_value(&report).unwrap_or_default());
    } else {
        summary(&report)?;
    }
    Ok(if args.deny_warnings && !report.warnings.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print(warnings: &[Warning]) -> std::io::Result<()> {
    let s = Style::stdout();
    for w in warnings {
        let text = w.to_string();
        outln!("{}", text.replacen("warning[", &s.yellow("warning["), 1));
    }
    Ok(())
}

fn summary(report: &LintReport) -> std::io::Result<()> {
    print(&report.warnings)?;
    let accepted = report.suppressed.len();
    if accepted == 0 {
        outln!("{}", plural(report.warnings.len() as u64, "warning"));
    } else {
        outln!(
            "{} ({} accepted by `lint.allow`)",
            plural(report.warnings.len() as u64, "warning"),
            accepted
        );
    }
    Ok(())
}
