//! Named address lists, inline or read from files.

use ipnet::IpNet;

use crate::compile::addr::{parse_entry, parse_net};
use crate::engine::provenance::SourceFile;
use crate::error::{ErrorKind, PolicyError, PolicyWarning, SkippedLine};
use crate::policy::model::{ListDef, OnInvalid};
use crate::policy::source::{Seg, Source};
use crate::policy::{read_limited, Policy};

/// The largest list file accepted, in bytes.
pub const MAX_LIST_FILE_BYTES: usize = 256 * 1024 * 1024;

/// The most entries one list may hold.
pub const MAX_LIST_ENTRIES: usize = 10_000_000;

/// The most bad lines of one list file an error names; it counts the rest.
pub const MAX_REPORTED_LINES: usize = 20;

/// The most skipped lines of one list file a warning names; it counts the rest.
pub const MAX_WARNED_LINES: usize = 5;

/// A list with its prefixes, in name order.
#[derive(Debug)]
pub(crate) struct List {
    pub(crate) name: String,
    pub(crate) nets: Vec<IpNet>,
    /// The file it was read from, with the digest of what was read.
    pub(crate) file: Option<SourceFile>,
}

/// Reads every list of the policy. Lines skipped under `on_invalid = "skip"` come back as
/// warnings, each also logged.
pub(crate) fn load(policy: &Policy) -> Result<(Vec<List>, Vec<PolicyWarning>), PolicyError> {
    let src = &policy.source;
    let mut out = Vec::with_capacity(policy.doc.lists.len());
    let mut warnings = Vec::new();
    for (name, def) in &policy.doc.lists {
        let here = [Seg::Key("lists"), Seg::Key(name)];
        if let Err(msg) = check_name(name) {
            return Err(src.place(PolicyError::invalid(msg), &here, &[name]));
        }
        let mut file_read = None;
        let nets = match def {
            ListDef::Inline(entries) => {
                if entries.len() > MAX_LIST_ENTRIES {
                    return Err(src.place(
                        PolicyError::new(
                            ErrorKind::Limit,
                            format!("list `{name}` has more than {MAX_LIST_ENTRIES} entries"),
                        ),
                        &here,
                        &[name],
                    ));
                }
                let mut nets = Vec::with_capacity(entries.len());
                for (i, entry) in entries.iter().enumerate() {
                    let net = parse_net(entry).map_err(|msg| {
                        let path = [Seg::Key("lists"), Seg::Key(name), Seg::Index(i)];
                        src.place(
                            PolicyError::invalid(format!("in list `{name}`: {msg}")),
                            &path,
                            &[name, entry],
                        )
                    })?;
                    nets.push(net);
                }
                nets
            }
            ListDef::File(list_file) => {
                let file = &list_file.file;
                let path = policy.resolve(file);
                let shown = path.display().to_string();
                let text = read_limited(&path, MAX_LIST_FILE_BYTES).map_err(|msg| {
                    src.place(
                        PolicyError::new(
                            ErrorKind::Io,
                            format!("list `{name}` file `{shown}`: {msg}"),
                        ),
                        &[Seg::Key("lists"), Seg::Key(name), Seg::Key("file")],
                        &[name, file],
                    )
                })?;
                file_read = Some(SourceFile::new(path.clone(), text.as_bytes()));
                let parsed = parse_list_file(name, &shown, text, list_file.on_invalid)?;
                if let Some(w) = parsed.warning {
                    tracing::warn!(
                        target: "portcullis",
                        list = %w.list,
                        file = %w.file,
                        skipped = w.skipped,
                        "{w}"
                    );
                    warnings.push(w);
                }
                parsed.nets
            }
        };
        out.push(List {
            name: name.clone(),
            nets,
            file: file_read,
        });
    }
    Ok((out, warnings))
}

/// A list file read: its prefixes and, when lines were skipped, the warning that says so.
#[derive(Debug)]
pub(crate) struct ListFileContents {
    pub(crate) nets: Vec<IpNet>,
    pub(crate) warning: Option<PolicyWarning>,
}

/// Parses a list file: one address, CIDR or range per line. Blank lines are ignored; a
/// comment starts with `#` or `;` at the start of a line or after white space; a UTF-8
/// byte-order mark and CRLF line ends are accepted.
///
/// Every bad line is found in one pass: with [`OnInvalid::Refuse`] they make one error
/// (the first, then up to [`MAX_REPORTED_LINES`] in all, then a count); with
/// [`OnInvalid::Skip`] they are left out and described by a warning.
pub(crate) fn parse_list_file(
    list: &str,
    file: &str,
    mut text: String,
    on_invalid: OnInvalid,
) -> Result<ListFileContents, PolicyError> {
    // The mark is not part of the first line: dropping it keeps columns as an editor shows them.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    let source = Source::new(file, text);
    let mut nets = Vec::new();
    let mut bad: Vec<PolicyError> = Vec::new();
    let mut bad_count = 0usize;
    let keep = match on_invalid {
        OnInvalid::Refuse => MAX_REPORTED_LINES,
        OnInvalid::Skip => MAX_WARNED_LINES,
    };
    let mut offset = 0;
    for line in source.text().split('\n') {
        let start = offset;
        offset += line.len() + 1;
        let (col, content) = entry_of(line);
        if content.is_empty() {
            continue;
        }
        match parse_entry(content, &mut nets) {
            Ok(()) => {}
            Err(msg) => {
                bad_count += 1;
                if bad.len() < keep {
                    bad.push(source.error_at_offset(PolicyError::invalid(msg), start + col));
                }
            }
        }
        if nets.len() > MAX_LIST_ENTRIES {
            return Err(PolicyError::new(
                ErrorKind::Limit,
                format!("list `{list}` has more than {MAX_LIST_ENTRIES} entries"),
            )
            .in_file(file));
        }
    }
    let mut bad = bad.into_iter();
    let Some(first) = bad.next() else {
        return Ok(ListFileContents {
            nets,
            warning: None,
        });
    };
    match on_invalid {
        OnInvalid::Refuse => {
            let related: Vec<PolicyError> = bad.collect();
            let omitted = bad_count - 1 - related.len();
            let lines = if bad_count == 1 {
                String::new()
            } else {
                format!(" (first of {bad_count} invalid lines)")
            };
            let message = format!("in list `{list}`{lines}: {}", first.message());
            let location = first.location().cloned();
            let snippet = first.snippet().map(str::to_owned);
            Err(PolicyError::invalid(message)
                .at(location, snippet)
                .with_related(related, omitted))
        }
        OnInvalid::Skip => {
            let lines = std::iter::once(first)
                .chain(bad)
                .filter_map(|e| {
                    Some(SkippedLine {
                        location: e.location()?.clone(),
                        reason: e.message().to_owned(),
                    })
                })
                .collect();
            Ok(ListFileContents {
                nets,
                warning: Some(PolicyWarning {
                    list: list.to_owned(),
                    file: file.to_owned(),
                    skipped: bad_count,
                    lines,
                }),
            })
        }
    }
}

/// The entry on one line of a list file and the byte column it starts at: the line without
/// its comment, its line end and surrounding white space.
fn entry_of(line: &str) -> (usize, &str) {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut end = line.len();
    let mut after_space = true;
    for (i, ch) in line.char_indices() {
        if after_space && matches!(ch, '#' | ';') {
            end = i;
            break;
        }
        after_space = ch.is_whitespace();
    }
    let kept = line.get(..end).unwrap_or("");
    let content = kept.trim();
    let col = kept.len() - kept.trim_start().len();
    (col, content)
}

/// The entries of a list file: each line's byte offset, the line, and its content without
/// comments (`#` and `;` start one) and surrounding space; blank lines are skipped.
pub(crate) fn entries(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    let mut offset = 0;
    text.split('\n').filter_map(move |line| {
        let start = offset;
        offset += line.len() + 1;
        let (_, content) = entry_of(line);
        (!content.is_empty()).then_some((start, line, content))
    })
}

/// Names of lists, clients and roles: short words a reader can type.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name `{}` must be 1 to 128 letters, digits, `-`, `_`, `.` or `:`",
            name.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests;
