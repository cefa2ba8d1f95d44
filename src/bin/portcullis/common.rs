//! What the subcommands share: loading a policy, printing its errors, plurals, output.

use std::io::Write;
use std::path::Path;

use portcullis::{Engine, Policy, PolicyError};

use crate::style::Style;

/// `writeln!` to standard output, returning the error (a closed pipe) to the caller.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `1 rule`, `2 rules`.
pub(crate) fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1 rule`, `2 rules`, for nouns whose plural adds an `s`.
pub(crate) fn plural(n: impl Into<u64>, noun: &str) -> String {
    count(n, noun, &format!("{noun}s"))
}

/// The exit code a command decided on, even when its reader closed the pipe before reading
/// all (`portcullis diff ... --fail-on-change | head -3` still fails on a change).
pub(crate) fn keep_code_on_closed_pipe(
    printed: std::io::Result<()>,
    code: std::process::ExitCode,
) -> std::io::Result<std::process::ExitCode> {
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(code),
    }
}

pub(crate) fn load(path: &Path) -> Result<Engine, PolicyError> {
    Policy::from_path(path)?.compile()
}

/// Prints a policy error like a compiler: the message, the line and a caret under the column.
pub(crate) fn report_error(e: &PolicyError, json: bool) {
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
                "related": e.related().iter().map(|r| serde_json::json!({
                    "message": r.message(),
                    "file": r.file(),
                    "line": r.location().map(|l| l.line),
                    "column": r.location().map(|l| l.column),
                })).collect::<Vec<_>>(),
                "omitted": e.omitted(),
            }
        });
        let _ = writeln!(std::io::stdout(), "{out}");
        return;
    }
    let s = Style::stderr();
    let mut err = std::io::stderr().lock();
    for e in std::iter::once(e).chain(e.related()) {
        let _ = writeln!(err, "{} {}", s.red("error:"), e.headline());
        show_snippet(&mut err, e);
    }
    if e.omitted() > 0 {
        let _ = writeln!(err, "{} and {} more", s.red("error:"), e.omitted());
    }
}

/// The line an error points at, with a caret under the column.
fn show_snippet(err: &mut impl Write, e: &PolicyError) {
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
        let number = loc.line.to_string();
        let pad = " ".repeat(number.len());
        let _ = writeln!(
            err,
            "{pad} |\n{number} | {shown}\n{pad} | {}^",
            " ".repeat(column.saturating_sub(1))
        );
    }
}
