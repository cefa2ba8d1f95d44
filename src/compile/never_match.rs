//! Globs that could never match a request the engine reads: refused when the policy is
//! compiled, with the reason and the form that would match.
//!
//! The engine refuses ambiguous requests (dot segments, `%2F`, Windows aliases, characters that
//! read as ASCII elsewhere) before any rule runs, so a glob that spells one of them out guards
//! nothing; silently keeping it would make a rule look stricter than it is.

use crate::engine::globs::syntax::Token;
use crate::engine::lookalike;

/// The most alternatives of one glob whose segments are checked one by one; a glob with more
/// is checked outside its alternatives only.
const MAX_CHECKED_VARIANTS: usize = 64;

/// The glob without alternatives, once for each choice of alternatives; `None` when there are
/// more than [`MAX_CHECKED_VARIANTS`].
fn variants(tokens: &[Token]) -> Option<Vec<Vec<&Token>>> {
    let mut out: Vec<Vec<&Token>> = vec![Vec::new()];
    for t in tokens {
        match t {
            Token::Alternates(branches) => {
                let mut next = Vec::new();
                for b in branches {
                    for tail in variants(b)? {
                        for head in &out {
                            let mut v = head.clone();
                            v.extend(tail.iter().copied());
                            next.push(v);
                            if next.len() > MAX_CHECKED_VARIANTS {
                                return None;
                            }
                        }
                    }
                }
                out = next;
            }
            t => out.iter_mut().for_each(|v| v.push(t)),
        }
    }
    Some(out)
}

/// The variants to check: every choice of alternatives, or the glob itself with its
/// alternatives left opaque when there are too many.
fn checked_variants(tokens: &[Token]) -> Vec<Vec<&Token>> {
    variants(tokens).unwrap_or_else(|| vec![tokens.iter().collect()])
}

/// Every literal character of a glob, alternatives included.
fn literals(tokens: &[Token], out: &mut Vec<Vec<char>>) {
    let mut run = Vec::new();
    for t in tokens {
        match t {
            Token::Literal(c) => run.push(*c),
            other => {
                out.push(std::mem::take(&mut run));
                if let Token::Alternates(branches) = other {
                    for b in branches {
                        literals(b, out);
                    }
                }
            }
        }
    }
    out.push(run);
}

/// Refuses a path glob that no path the engine accepts can match: the request reader
/// (`engine::path`) decodes escapes once, and refuses backslashes, `;`, `#`, an encoded `%`,
/// `?` or control character, dot segments, empty segments other than a trailing one, and
/// segments that start or end with a space. A kept `%2F` (`encoded_slash = "both"`) is the one
/// escape a path can hold, upper-case.
pub(crate) fn check_path_glob(
    p: &str,
    tokens: &[Token],
    kept_slash: bool,
    case_sensitive: bool,
) -> Result<(), String> {
    let never = "so the glob could never match";
    let mut runs = Vec::new();
    literals(tokens, &mut runs);
    for run in &runs {
        let mut i = 0;
        while let Some(&c) = run.get(i) {
            i += 1;
            let why = match c {
                c if lookalike::normalizes_to_ascii(c) => Some(format!(
                    "holds `{c}`, which Unicode normalisation turns into ASCII and the engine refuses in paths, {never}"
                )),
                c if !case_sensitive && lookalike::folds_to_ascii(c) => Some(format!(
                    "holds `{c}`, which some backends fold to an ASCII letter and the engine refuses in case-insensitive paths, {never}"
                )),
                '%' => match escapes(run, i - 1, kept_slash) {
                    Some((escaped, decoded)) => Some(escape_hint(p, &escaped, decoded.as_deref())),
                    None if kept_slash && run.get(i..i + 2) == Some(&['2', 'F'][..]) => {
                        i += 2;
                        None
                    }
                    None => Some(format!(
                        "holds a `%`, which a path never holds once decoded (an encoded `%` is refused), {never}"
                    )),
                },
                '\\' => Some(format!("holds a backslash, which the engine refuses in paths, {never}")),
                ';' => Some(format!("holds `;`, which the engine refuses in paths (path parameters), {never}")),
                '#' => Some(format!("holds `#`, which the engine refuses in paths (fragments), {never}")),
                '?' => Some(format!("holds a literal `?`, which starts the query and is refused encoded, {never}")),
                _ => None,
            };
            if let Some(why) = why {
                return Err(format!("path glob `{p}` {why}"));
            }
        }
    }
    let variants = checked_variants(tokens);
    let several = if variants.len() > 1 {
        " (in one of its alternatives)"
    } else {
        ""
    };
    for v in &variants {
        let parts: Vec<&[&Token]> = v.split(|t| **t == Token::Literal('/')).collect();
        let last = parts.len().saturating_sub(1);
        // The part before the first `/` is the glob's `*` or `**` start, not a segment.
        for (i, part) in parts.iter().enumerate().skip(1) {
            let text: Option<String> = part
                .iter()
                .map(|t| match t {
                    Token::Literal(c) => Some(*c),
                    _ => None,
                })
                .collect();
            let why = match text.as_deref() {
                Some("") if i < last => Some("an empty segment (`//`), which the engine refuses"),
                Some("." | "..") => Some("a dot segment (`.` or `..`), which the engine refuses"),
                _ if matches!(part.first(), Some(Token::Literal(c)) if edge_space(*c))
                    || matches!(part.last(), Some(Token::Literal(c)) if edge_space(*c)) =>
                {
                    Some("a segment starting or ending with a space, which the engine refuses")
                }
                Some(seg)
                    if !case_sensitive
                        && (seg.ends_with('.')
                            || lookalike::is_windows_alias_segment(seg.as_bytes())) =>
                {
                    Some("a segment ending in `.`, an NTFS stream (`:$`) or a short name (`~1`), which the engine refuses in case-insensitive paths")
                }
                _ => None,
            };
            if let Some(why) = why {
                return Err(format!("path glob `{p}` holds {why}{several}, {never}"));
            }
        }
    }
    Ok(())
}

/// A character the engine refuses at the edge of a path segment.
fn edge_space(c: char) -> bool {
    c == ' ' || lookalike::trims_as_space(c)
}

/// The run of `%XX` escapes starting at `at` and what it decodes to (`None`: not UTF-8);
/// `None` when `at` starts no escape, or starts an allowed kept `%2F`.
fn escapes(run: &[char], at: usize, kept_slash: bool) -> Option<(String, Option<String>)> {
    let mut bytes = Vec::new();
    let mut escaped = String::new();
    let mut i = at;
    while let (Some('%'), Some(&h), Some(&l)) = (run.get(i), run.get(i + 1), run.get(i + 2)) {
        let (Some(hi), Some(lo)) = (h.to_digit(16), l.to_digit(16)) else {
            break;
        };
        if kept_slash && h == '2' && l == 'F' {
            break;
        }
        bytes.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
        escaped.extend(['%', h, l]);
        i += 3;
    }
    if bytes.is_empty() {
        return None;
    }
    Some((escaped, String::from_utf8(bytes).ok()))
}

/// Why a path glob's escape can never match, with the spelling to write instead.
fn escape_hint(p: &str, escaped: &str, decoded: Option<&str>) -> String {
    let Some(decoded) = decoded else {
        return format!(
            "holds `{escaped}`, which decodes to bytes that are not UTF-8 (refused by the engine), so the glob could never match"
        );
    };
    let refused = |c: char| matches!(c, '%' | '\\' | '?' | '#' | ';') || c.is_control();
    if decoded.contains('/') {
        format!("holds `{escaped}`: paths are matched decoded, and an encoded `/` is refused (with `encoded_slash = \"both\"` a path can hold `%2F`, upper-case), so the glob could never match")
    } else if decoded.chars().any(refused) {
        format!(
            "holds `{escaped}`, an encoded `{}`, which the engine refuses in paths, so the glob could never match",
            decoded.escape_debug()
        )
    } else {
        // The whole glob decoded, when the escape is written plainly in it.
        let instead = if p.contains(escaped) {
            p.replace(escaped, decoded)
        } else {
            decoded.to_owned()
        };
        format!("holds the escape `{escaped}`, but paths are matched after decoding: write `{instead}` instead")
    }
}

/// Refuses a host glob that no host the engine accepts can match: hosts are normalised to
/// lower-case ASCII letters, digits, `-`, `_` and `.` in labels that are never empty, without
/// a port or a trailing dot; or an IPv6 address in brackets.
pub(crate) fn check_host_glob(p: &str, tokens: &[Token]) -> Result<(), String> {
    let never = "so the glob could never match";
    for v in checked_variants(tokens) {
        let mut in_brackets = false;
        let mut prev: Option<&Token> = None;
        for t in &v {
            if let Token::Literal(c) = t {
                let c = *c;
                let why = match c {
                    '[' => {
                        in_brackets = true;
                        None
                    }
                    ']' => {
                        in_brackets = false;
                        None
                    }
                    ':' if !in_brackets => Some(if p.matches(':').count() > 1 {
                        format!("has a `:` outside brackets: IPv6 hosts are matched in brackets, as `[::1]`, {never}")
                    } else {
                        format!(
                            "has a port: the engine matches hosts without their port, {never} (write `{}`)",
                            p.split(':').next().unwrap_or(p)
                        )
                    }),
                    c if in_brackets && (c.is_ascii_hexdigit() || c == ':' || c == '.') => None,
                    '.' if !in_brackets && matches!(prev, None | Some(Token::Literal('.'))) => {
                        Some(if prev.is_none() {
                            format!("starts with a dot, and hosts have no empty labels, {never} (`*{p}` matches the subdomains)")
                        } else {
                            format!("holds `..`, and hosts have no empty labels, {never}")
                        })
                    }
                    c if !in_brackets && (c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) => None,
                    c => Some(format!(
                        "holds `{}`, which no host holds: hosts are ASCII letters, digits, `-`, `_` and `.` (an IPv6 address in brackets), {never} (write an internationalised name in its `xn--` form)",
                        c.escape_debug()
                    )),
                };
                if let Some(why) = why {
                    return Err(format!("host glob `{p}` {why}"));
                }
            }
            prev = Some(t);
        }
        if prev == Some(&Token::Literal('.')) {
            return Err(format!(
                "host glob `{p}` ends with a dot: the engine removes one trailing dot from hosts, {never} (write `{}`)",
                p.trim_end_matches('.')
            ));
        }
    }
    Ok(())
}
