//! `portcullis replay`: stream an access log through a policy, optionally against an older
//! one.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use portcullis::replay::{
    replay_with, ClientSource, Example, LogFormat, NginxFormat, ReplayOptions, ReplayReport,
};

use crate::common::{count, load, plural, report_error};
use crate::style::Style;

/// Stream an access log (plain or gzip) through the policy; with --against, list what
/// changes.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The policy file.
    policy: PathBuf,
    /// The access log, plain or gzip-compressed (`-` for standard input).
    log: PathBuf,
    /// An older policy to compare with.
    #[arg(long)]
    against: Option<PathBuf>,
    /// The log format.
    #[arg(long, value_enum, default_value = "combined")]
    format: Format,
    /// The nginx `log_format` string the log was written with, e.g.
    /// '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"'.
    #[arg(long, value_name = "FORMAT", conflicts_with = "format")]
    log_format: Option<String>,
    /// Examples kept per outcome and per change.
    #[arg(long, default_value_t = portcullis::replay::EXAMPLES)]
    examples: usize,
    /// Print the full explanation of each example.
    #[arg(long)]
    explain: bool,
    /// Exit 1 when any answer changes (with --against; for CI).
    #[arg(long, requires = "against")]
    fail_on_change: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Combined,
    Json,
}

/// Opens the log: a file or standard input, decompressed when it starts with gzip's magic
/// bytes, counted by `bar` as it is read.
fn open(log: &Path, bar: &ProgressBar) -> std::io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if log.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(log)?;
        if let Ok(meta) = file.metadata() {
            bar.set_length(meta.len());
        }
        Box::new(file)
    };
    let mut reader = BufReader::with_capacity(1 << 16, bar.wrap_read(raw));
    let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

pub(crate) fn run(args: Args) -> std::io::Result<ExitCode> {
    let engines =
        load(&args.policy).and_then(|e| Ok((e, args.against.as_deref().map(load).transpose()?)));
    let (engine, old) = match engines {
        Ok(x) => x,
        Err(e) => {
            report_error(&e, args.json);
            return Ok(ExitCode::from(2));
        }
    };
    let format = match (&args.log_format, args.format) {
        (Some(f), _) => match f.parse::<NginxFormat>() {
            Ok(f) => LogFormat::Nginx(f),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: --log-format: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        (None, Format::Combined) => LogFormat::Combined,
        (None, Format::Json) => LogFormat::Json,
    };
    let options = ReplayOptions {
        format,
        examples: args.examples,
        explain: args.explain,
    };
    let bar = progress_bar();
    let started = std::time::Instant::now();
    let result = open(&args.log, &bar).and_then(|reader| {
        replay_with(reader, &options, &engine, old.as_ref(), |n| {
            bar.set_message(format!("{n} lines"));
        })
    });
    bar.finish_and_clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: reading `{}`: {e}",
                args.log.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let code = if args.fail_on_change && report.changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let printed = if args.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["seconds"] = serde_json::json!(seconds);
        (|| {
            outln!("{v}");
            Ok(())
        })()
    } else {
        text(&report, seconds, old.is_some())
    };
    crate::common::keep_code_on_closed_pipe(printed, code)
}

fn example(e: &Example, s: Style) -> std::io::Result<()> {
    outln!(
        "{:>10}    {}",
        "",
        s.dim(&format!("line {}: {}", e.line, e.request))
    );
    if let Some(x) = &e.old_explanation {
        outln!("{:>10}      was: {x}", "");
    }
    if let Some(x) = &e.explanation {
        let lead = if e.old_explanation.is_some() {
            "now"
        } else {
            "why"
        };
        outln!("{:>10}      {lead}: {x}", "");
    }
    Ok(())
}

fn text(report: &ReplayReport, seconds: f64, against: bool) -> std::io::Result<()> {
    let s = Style::stdout();
    outln!(
        "{} in {seconds:.2} s ({:.0} lines/s); {} decided",
        plural(report.lines, "line"),
        report.lines as f64 / seconds.max(1e-9),
        plural(report.requests(), "request"),
    );
    let u = &report.unparsed;
    if u.count > 0 {
        let shown: Vec<String> = u.lines.iter().map(u64::to_string).collect();
        let more = if u.count > u.lines.len() as u64 {
            ", ..."
        } else {
            ""
        };
        let too_long = if u.too_long > 0 {
            format!(
                ", {} longer than {} bytes",
                u.too_long,
                portcullis::replay::MAX_LINE
            )
        } else {
            String::new()
        };
        outln!(
            "skipped {}{too_long} (line{} {}{more})",
            count(
                u.count,
                "line that is not a request of this format",
                "lines that are not requests of this format"
            ),
            if u.lines.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    outln!("clients:");
    for (source, n) in &report.clients {
        outln!("{n:>10}  {source}");
    }
    outln!("answers:");
    for o in &report.outcomes {
        let label = o.outcome.to_string();
        let painted = if o.outcome.is_allowed() {
            s.green(&label)
        } else {
            s.red(&label)
        };
        outln!("{:>10}  {painted}", o.count);
        for e in &o.examples {
            example(e, s)?;
        }
    }
    if let Some(n) = report.clients.get(&ClientSource::ProxyWithoutForwarded) {
        outln!(
            "{} {} came from a trusted proxy and the log has no forwarded field for them, so they were decided as the proxy itself: log `$http_x_forwarded_for` (and pass --log-format)",
            s.yellow("warning:"),
            plural(*n, "request")
        );
    }
    if report.decided_by_key_rules > 0 {
        outln!(
            "note: logs carry no API keys, so every request was replayed as unauthenticated; {} decided by a rule that reads keys and could be answered otherwise for a caller with one",
            count(report.decided_by_key_rules, "request was", "requests were")
        );
    }
    if against {
        outln!(
            "{}",
            s.bold(&count(
                report.changed,
                "request changes its answer",
                "requests change their answer"
            ))
        );
        for c in &report.changes {
            outln!("{:>10}  {} -> {}", c.count, c.from, c.to);
            for e in &c.examples {
                example(e, s)?;
            }
        }
    }
    Ok(())
}
