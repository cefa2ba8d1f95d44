//! `portcullis diff OLD NEW`: which requests change their answer, without any log.

use std::path::PathBuf;
use std::process::ExitCode;

use portcullis::diff::{diff, DiffOptions};
use portcullis::Policy;

use crate::common::{count, plural, report_error};
use crate::style::Style;

/// Generate witness requests from two policies and list every change of answer, grouped by
/// the pair of outcomes, with the smallest examples.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy as it is.
    old: PathBuf,
    /// The policy as it will be.
    new: PathBuf,
    /// Exit 1 when any answer changes (for CI).
    #[arg(long)]
    fail_on_change: bool,
    /// Examples per change.
    #[arg(long, default_value_t = 3)]
    examples: usize,
    /// The most witness requests to try; beyond it, the classes are sampled evenly.
    #[arg(long, default_value_t = DiffOptions::default().budget)]
    budget: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let options = DiffOptions {
        budget: args.budget,
        examples: args.examples,
    };
    let report = Policy::from_path(&args.old)
        .and_then(|old| Ok((old, Policy::from_path(&args.new)?)))
        .and_then(|(old, new)| diff(&old, &new, &options));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            report_error(&e, args.json);
            return Ok(ExitCode::from(2));
        }
    };
    let code = if args.fail_on_change && report.changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    crate::common::keep_code_on_closed_pipe(print(&report, args.json), code)
}

fn print(report: &portcullis::diff::DiffReport, json: bool) -> std::io::Result<()> {
    if json {
        outln!("{}", serde_json::to_value(report).unwrap_or_default());
    } else {
        let s = Style::stdout();
        let tried = if report.exhaustive {
            format!(
                "{}: one of each of the {} the two policies tell apart",
                plural(report.witnesses, "witness request"),
                count(report.classes, "class", "classes"),
            )
        } else {
            format!(
                "{}: an even sample of the {} the two policies tell apart (raise --budget to try all)",
                plural(report.witnesses, "witness request"),
                count(report.classes, "class", "classes"),
            )
        };
        outln!("{tried}");
        if report.changes.is_empty() {
            outln!("{}", s.bold("no request changes its answer"));
        } else {
            outln!(
                "{}",
                s.bold(&format!(
                    "{}, in {}",
                    count(
                        report.changed,
                        "witness changes its answer",
                        "witnesses change their answer"
                    ),
                    plural(report.changes.len() as u64, "group")
                ))
            );
        }
        for g in &report.changes {
            outln!("{:>10}  {} -> {}", g.count, g.from, g.to);
            for e in &g.examples {
                outln!("{:>10}    {}", "", s.dim(&e.to_string()));
            }
        }
    }
    Ok(())
}
