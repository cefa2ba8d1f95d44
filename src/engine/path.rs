//! Strict reading of the request target, host and method.
//!
//! Anything that two HTTP components could read differently is refused here, before any rule
//! runs: the engine would otherwise decide on one reading while the backend acts on another.
//! Escapes of harmless characters are decoded once, so `/%61dmin` is matched as `/admin`.

use crate::engine::lookalike::{
    check_windows_forms, folds_to_ascii, normalizes_to_ascii, trims_as_space,
};
use crate::engine::verdict::Refusal;
use crate::vocabulary::EncodedSlash;

/// Path handling settings, fixed when the policy is compiled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathOptions {
    pub(crate) max_length: usize,
    pub(crate) encoded_slash: EncodedSlash,
    /// Whether path rules match case-sensitively; when not, characters that some backends
    /// fold to ASCII are refused (see [`folds_to_ascii`]).
    pub(crate) case_sensitive: bool,
}

/// A target split into its authority (absolute form only) and its path (no query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub(crate) authority: Option<&'a [u8]>,
    pub(crate) path: &'a [u8],
}

/// Splits a raw request target.
pub(crate) fn split_target(target: &[u8], max_length: usize) -> Result<Target<'_>, Refusal> {
    if target.is_empty() {
        return Err(Refusal::EmptyTarget);
    }
    if target.len() > max_length {
        return Err(Refusal::TargetTooLong);
    }
    // One search finds the first `?` or `#`; a `#` anywhere is refused.
    let first_delimiter = memchr::memchr2(b'?', b'#', target);
    if let Some(at) = first_delimiter {
        let rest = target.get(at..).unwrap_or(&[]);
        if rest.first() == Some(&b'#') || memchr::memchr(b'#', rest).is_some() {
            return Err(Refusal::Fragment);
        }
        // No HTTP parser accepts these in a target; a query holding one did not come from a
        // client the backend would have served.
        if rest.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(Refusal::ControlCharacter);
        }
    }
    if target == b"*" {
        return Ok(Target {
            authority: None,
            path: b"*",
        });
    }
    let (authority, rest) = if target.first() == Some(&b'/') {
        // Origin form: the path ends at the first `?`, found above.
        let path = match first_delimiter.and_then(|at| target.get(..at)) {
            Some(p) => p,
            None => target,
        };
        return Ok(Target {
            authority: None,
            path,
        });
    } else {
        let rest = strip_scheme(target).ok_or(Refusal::TargetForm)?;
        let end = rest
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.is_empty() {
            return Err(Refusal::TargetForm);
        }
        (Some(authority), rest)
    };
    let path_end = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
    let path = match rest.get(..path_end) {
        Some(p) if !p.is_empty() => p,
        _ => b"/",
    };
    Ok(Target { authority, path })
}

fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    for scheme in [&b"http://"[..], b"https://"] {
        if target.len() >= scheme.len() && target.get(..scheme.len())?.eq_ignore_ascii_case(scheme)
        {
            return target.get(scheme.len()..);
        }
    }
    None
}

/// Percent-decodes `raw` into `out` (`+` stays `+`); `None` on an invalid escape.
pub(crate) fn percent_decode(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let h = hex(*raw.get(i + 1)?)?;
            let l = hex(*raw.get(i + 2)?)?;
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(())
}

/// Decodes a query parameter name or value as HTML forms encode them: `+` is a space, then
/// percent-escapes; `None` on an invalid escape.
pub(crate) fn form_decode(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    percent_decode(raw, out)?;
    // INVARIANT: a `+` can only come from a raw `+` (an escaped one is `%2B`, decoded to `+`
    // only by the line above): so map raw `+`s, not decoded ones.
    if memchr::memchr(b'+', raw).is_some() {
        let mut i = 0;
        let mut j = 0;
        while let Some(&b) = raw.get(i) {
            if b == b'%' {
                i += 3;
            } else {
                if b == b'+' {
                    if let Some(o) = out.get_mut(j) {
                        *o = b' ';
                    }
                }
                i += 1;
            }
            j += 1;
        }
    }
    Some(())
}

/// The query of a raw target (after the first `?`), if any.
pub(crate) fn query(target: &[u8]) -> Option<&[u8]> {
    let at = target.iter().position(|&b| b == b'?')?;
    target.get(at + 1..)
}

/// The readings of a path: always `decoded`; `kept` too when an encoded slash is allowed and
/// present, holding `%2F` inside its segment instead of a separator.
#[derive(Debug, Default)]
pub(crate) struct PathBuffers {
    pub(crate) decoded: Vec<u8>,
    pub(crate) kept: Vec<u8>,
}

/// Decodes and checks a path. Returns whether there are two readings (`kept` is filled).
pub(crate) fn normalize(
    path: &[u8],
    options: PathOptions,
    out: &mut PathBuffers,
) -> Result<bool, Refusal> {
    out.decoded.clear();
    out.kept.clear();
    if path == b"*" {
        out.decoded.push(b'*');
        return Ok(false);
    }
    // Most paths hold nothing to decode or refuse: copy them whole.
    // A pass without early exits, which the compiler vectorises.
    let plain = path.iter().fold(true, |ok, &b| {
        ok & b.is_ascii_graphic() & (b != b'%') & (b != b'\\') & (b != b';') & (b != b'#')
    });
    if plain {
        out.decoded.extend_from_slice(path);
        // Only a `/` followed by `.` or `/` can start a dot or empty segment, and a plain path
        // has no spaces: most paths need no segment check at all.
        let suspect = path
            .windows(2)
            .any(|w| w.first() == Some(&b'/') && matches!(w.get(1), Some(b'.' | b'/')));
        if suspect || path.first() != Some(&b'/') {
            check_segments(&out.decoded)?;
        }
        if !options.case_sensitive {
            check_windows_forms(&out.decoded)?;
        }
        return Ok(false);
    }
    let keep = options.encoded_slash == EncodedSlash::Both;
    let mut two = false;
    let mut i = 0;
    while let Some(&b) = path.get(i) {
        match b {
            b'%' => {
                let v = match (path.get(i + 1), path.get(i + 2)) {
                    (Some(&h), Some(&l)) => match (hex(h), hex(l)) {
                        (Some(h), Some(l)) => h << 4 | l,
                        _ => return Err(Refusal::InvalidEscape),
                    },
                    _ => return Err(Refusal::InvalidEscape),
                };
                i += 3;
                match v {
                    b'/' => {
                        if options.encoded_slash == EncodedSlash::Reject {
                            return Err(Refusal::EncodedSlash);
                        }
                        two = true;
                        out.decoded.push(b'/');
                        out.kept.extend_from_slice(b"%2F");
                        continue;
                    }
                    b'\\' => return Err(Refusal::EncodedBackslash),
                    b'%' => return Err(Refusal::EncodedPercent),
                    b'?' | b'#' => return Err(Refusal::EncodedDelimiter),
                    b';' => return Err(Refusal::PathParameter),
                    0..=0x1f | 0x7f => return Err(Refusal::ControlCharacter),
                    _ => {
                        out.decoded.push(v);
                        if keep {
                            out.kept.push(v);
                        }
                    }
                }
            }
            b'\\' => return Err(Refusal::Backslash),
            b';' => return Err(Refusal::PathParameter),
            b'#' => return Err(Refusal::Fragment),
            0..=0x20 | 0x7f => return Err(Refusal::ControlCharacter),
            _ => {
                out.decoded.push(b);
                if keep {
                    out.kept.push(b);
                }
                i += 1;
            }
        }
    }
    match std::str::from_utf8(&out.decoded) {
        // C1 controls (U+0080 to U+009F) are control characters too.
        Ok(text) if text.chars().any(char::is_control) => return Err(Refusal::ControlCharacter),
        Ok(text) if !options.case_sensitive && text.chars().any(folds_to_ascii) => {
            return Err(Refusal::CaseFoldsToAscii)
        }
        Ok(text) if text.chars().any(normalizes_to_ascii) => {
            return Err(Refusal::CompatibilityCharacter)
        }
        Ok(_) => {}
        Err(_) => return Err(Refusal::NotUtf8),
    }
    check_segments(&out.decoded)?;
    if !options.case_sensitive {
        check_windows_forms(&out.decoded)?;
    }
    Ok(two)
}

/// Refuses dot segments and empty segments (a trailing `/` is allowed).
// INVARIANT: a `kept` reading only joins segments of the `decoded` one with `%2F`, so checking
// `decoded` covers both.
fn check_segments(path: &[u8]) -> Result<(), Refusal> {
    let Some(rest) = path.strip_prefix(b"/") else {
        return Err(Refusal::TargetForm);
    };
    let mut start = 0;
    for (i, &b) in rest.iter().enumerate() {
        if b == b'/' {
            check_segment(rest.get(start..i).unwrap_or(&[]), false)?;
            start = i + 1;
        }
    }
    check_segment(rest.get(start..).unwrap_or(&[]), true)
}

fn check_segment(seg: &[u8], last: bool) -> Result<(), Refusal> {
    match seg {
        b"." | b".." => Err(Refusal::DotSegment),
        b"" if !last => Err(Refusal::EmptySegment),
        [b' ', ..] | [.., b' '] => Err(Refusal::EdgeSpace),
        // Only a segment with a byte past ASCII at an edge can start or end with a Unicode
        // space; the path is valid UTF-8 here (checked by the caller, or plain ASCII).
        [first, .., last_byte] | [first @ last_byte]
            if !first.is_ascii() || !last_byte.is_ascii() =>
        {
            let text = std::str::from_utf8(seg).map_err(|_| Refusal::NotUtf8)?;
            let edge = |c: Option<char>| c.is_some_and(trims_as_space);
            if edge(text.chars().next()) || edge(text.chars().next_back()) {
                Err(Refusal::EdgeSpace)
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// True when `m` is an HTTP token (RFC 9110 `tchar`s), as methods and header names must be.
pub(crate) fn is_token(m: &[u8]) -> bool {
    !m.is_empty()
        && m.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_forms_only_under_case_insensitive_paths() {
        let windows = PathOptions {
            case_sensitive: false,
            ..STRICT
        };
        for target in [
            "/a./b",
            "/web.config.",
            "/a::$DATA",
            "/a:s:$DATA/b",
            "/ADMINI~1/x",
        ] {
            assert_eq!(
                norm(target, windows),
                Err(Refusal::WindowsAlias),
                "{target}"
            );
            assert!(norm(target, STRICT).is_ok(), "{target}");
        }
        for target in ["/a.b/c", "/~user/x", "/a:b", "/v1/x.json"] {
            assert!(norm(target, windows).is_ok(), "{target}");
        }
    }

    const STRICT: PathOptions = PathOptions {
        max_length: 8192,
        encoded_slash: EncodedSlash::Reject,
        case_sensitive: true,
    };

    fn norm(target: &str, options: PathOptions) -> Result<(String, Option<String>), Refusal> {
        let t = split_target(target.as_bytes(), options.max_length)?;
        let mut buf = PathBuffers::default();
        let two = normalize(t.path, options, &mut buf)?;
        let decoded = String::from_utf8(buf.decoded).unwrap();
        let kept = two.then(|| String::from_utf8(buf.kept).unwrap());
        Ok((decoded, kept))
    }

    #[test]
    fn ordinary_paths_decode_once() {
        let cases = [
            ("/", "/"),
            ("/api/users", "/api/users"),
            ("/api/users/", "/api/users/"),
            ("/api/users?x=1&y=/../", "/api/users"),
            ("/%61dmin", "/admin"),
            ("/my%20file.txt", "/my file.txt"),
            ("/a%20b/c", "/a b/c"),
            ("/caf%C3%A9", "/café"),
            ("/café", "/café"),
            ("/a+b~c", "/a+b~c"),
            ("/a...b/...", "/a...b/..."),
            ("/.well-known/x", "/.well-known/x"),
            ("http://example.com/x?y", "/x"),
            ("HTTPS://example.com", "/"),
            ("*", "*"),
        ];
        for (target, want) in cases {
            assert_eq!(
                norm(target, STRICT),
                Ok((want.to_owned(), None)),
                "{target}"
            );
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        use Refusal::*;
        let cases = [
            ("", EmptyTarget),
            ("/a/../admin", DotSegment),
            ("/a/./admin", DotSegment),
            ("/a/..", DotSegment),
            ("/..", DotSegment),
            ("/a/%2e%2e/admin", DotSegment),
            ("/a/%2E./admin", DotSegment),
            ("/a/.%2e", DotSegment),
            ("//admin", EmptySegment),
            ("/a//b", EmptySegment),
            ("/a\\..\\admin", Backslash),
            ("/a%5cadmin", EncodedBackslash),
            ("/a%2fadmin", EncodedSlash),
            ("/a%2Fadmin", EncodedSlash),
            ("/a%252fadmin", EncodedPercent),
            ("/a%3fb", EncodedDelimiter),
            ("/a%23b", EncodedDelimiter),
            ("/a#b", Fragment),
            ("/x/..;/admin", PathParameter),
            ("/admin;jsessionid=1", PathParameter),
            ("/a%3bb", PathParameter),
            ("/a%00b", ControlCharacter),
            ("/a%0ab", ControlCharacter),
            ("/a b", ControlCharacter),
            ("/a\tb", ControlCharacter),
            ("/a%zz", InvalidEscape),
            ("/a%4", InvalidEscape),
            ("/a%", InvalidEscape),
            ("/%c0%af", NotUtf8),
            ("/%ff", NotUtf8),
            ("/admin%20/x", EdgeSpace),
            ("/%20admin/x", EdgeSpace),
            ("/admin/x%20", EdgeSpace),
            ("/a\u{8a}b", ControlCharacter),
            ("/a%c2%85b", ControlCharacter),
            ("admin", TargetForm),
            ("ftp://x/y", TargetForm),
            ("http:///x", TargetForm),
        ];
        for (target, want) in cases {
            assert_eq!(norm(target, STRICT), Err(want), "{target:?}");
        }
    }

    #[test]
    fn long_targets_are_refused() {
        let long = format!("/{}", "a".repeat(100));
        let options = PathOptions {
            max_length: 50,
            ..STRICT
        };
        assert_eq!(norm(&long, options), Err(Refusal::TargetTooLong));
    }

    #[test]
    fn encoded_slash_both_gives_two_readings() {
        let both = PathOptions {
            encoded_slash: EncodedSlash::Both,
            ..STRICT
        };
        assert_eq!(
            norm("/files/a%2fb", both),
            Ok(("/files/a/b".to_owned(), Some("/files/a%2Fb".to_owned())))
        );
        // The decoded reading still may not hide a dot or empty segment.
        assert_eq!(
            norm("/files/a%2F..%2Fadmin", both),
            Err(Refusal::DotSegment)
        );
        assert_eq!(norm("/files%2F%2Fadmin", both), Err(Refusal::EmptySegment));
    }

    #[test]
    fn tokens() {
        assert!(is_token(b"GET"));
        assert!(is_token(b"M-SEARCH"));
        assert!(!is_token(b""));
        assert!(!is_token(b"GE T"));
        assert!(!is_token(b"GET\0"));
    }
}
