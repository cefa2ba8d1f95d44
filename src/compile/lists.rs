//! Named address lists, inline or read from files.

use ipnet::IpNet;

use crate::compile::addr::parse_net;
use crate::engine::provenance::SourceFile;
use crate::error::{ErrorKind, PolicyError};
use crate::policy::model::ListDef;
use crate::policy::source::{Seg, Source};
use crate::policy::{read_limited, Policy};

/// The largest list file accepted, in bytes.
pub const MAX_LIST_FILE_BYTES: usize = 256 * 1024 * 1024;

/// The most entries one list may hold.
pub const MAX_LIST_ENTRIES: usize = 10_000_000;

/// A list with its prefixes, in name order.
#[derive(Debug)]
pub(crate) struct List {
    pub(crate) name: String,
    pub(crate) nets: Vec<IpNet>,
    /// The file it was read from, with the digest of what was read.
    pub(crate) file: Option<SourceFile>,
}

pub(crate) fn load(policy: &Policy) -> Result<Vec<List>, PolicyError> {
    let src = &policy.source;
    let mut out = Vec::with_capacity(policy.doc.lists.len());
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
            ListDef::File(file) => {
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
                file_read = Some(SourceFile::new(path, text.as_bytes()));
                parse_list_file(name, &shown, text)?
            }
        };
        out.push(List {
            name: name.clone(),
            nets,
            file: file_read,
        });
    }
    Ok(out)
}

/// Parses a list file: one address or CIDR per line; `#` and `;` start comments.
pub(crate) fn parse_list_file(
    list: &str,
    file: &str,
    text: String,
) -> Result<Vec<IpNet>, PolicyError> {
    let source = Source::new(file, text);
    let mut nets = Vec::new();
    for (start, line, content) in entries(source.text()) {
        if nets.len() >= MAX_LIST_ENTRIES {
            return Err(PolicyError::new(
                ErrorKind::Limit,
                format!("list `{list}` has more than {MAX_LIST_ENTRIES} entries"),
            )
            .in_file(file));
        }
        match parse_net(content) {
            Ok(net) => nets.push(net),
            Err(msg) => {
                let col = line.find(content).unwrap_or(0);
                return Err(source.error_at_offset(
                    PolicyError::invalid(format!("in list `{list}`: {msg}")),
                    start + col,
                ));
            }
        }
    }
    Ok(nets)
}

/// The entries of a list file: each line's byte offset, the line, and its content without
/// comments (`#` and `;` start one) and surrounding space; blank lines are skipped.
pub(crate) fn entries(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    let mut offset = 0;
    text.split('\n').filter_map(move |line| {
        let start = offset;
        offset += line.len() + 1;
        let content = line.split(['#', ';']).next().unwrap_or("").trim();
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
mod tests {
    use super::*;

    #[test]
    fn list_files_skip_comments_and_name_the_bad_line() {
        let text =
            "# drop list\n192.0.2.0/24 ; SBL1\n\n  2001:db8::/32  # v6\n198.51.100.7\n".to_owned();
        let nets = parse_list_file("drop", "drop.txt", text).unwrap();
        assert_eq!(nets.len(), 3);

        let err = parse_list_file("drop", "drop.txt", "10.0.0.0/8\n  10.1.2.3/8 ; x\n".into())
            .unwrap_err();
        assert_eq!(err.location().map(|l| (l.line, l.column)), Some((2, 3)));
        assert!(
            err.to_string()
                .starts_with("drop.txt:2:3: in list `drop`: CIDR `10.1.2.3/8` has host bits"),
            "{err}"
        );
    }
}
