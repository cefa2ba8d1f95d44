//! Globs and regular expressions: validated, translated and size-limited at compile time.

use globset::{Glob, GlobBuilder};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// The most memory one compiled regular expression may take.
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// What a glob is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobKind {
    /// A path: `/` separates segments; `*` stays in one, `**` crosses them.
    Path { case_sensitive: bool },
    /// A host name, case-insensitive.
    Host,
    /// A User-Agent, case-insensitive.
    UserAgent,
    /// A header value, case-sensitive.
    HeaderValue,
}

/// Checks what every written pattern must satisfy.
pub(crate) fn check_text(p: &str, what: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err(format!("empty {what}"));
    }
    if p.trim() != p {
        return Err(format!(
            "{what} `{p}` has stray whitespace at its start or end"
        ));
    }
    if p.len() > MAX_PATTERN_LEN {
        return Err(format!("{what} is longer than {MAX_PATTERN_LEN} bytes"));
    }
    if p.chars().any(char::is_control) {
        return Err(format!(
            "{what} `{}` holds a control character",
            p.escape_debug()
        ));
    }
    Ok(())
}

/// Compiles a written glob into the globs that implement it.
///
/// A path glob ending in `/**` also covers the directory itself: `/admin/**` matches `/admin`.
pub(crate) fn globs(p: &str, kind: GlobKind) -> Result<Vec<Glob>, String> {
    check_text(p, "glob")?;
    let (case_insensitive, separator) = match kind {
        GlobKind::Path { case_sensitive } => {
            if !p.starts_with('/') && !p.starts_with('*') {
                return Err(format!(
                    "path glob `{p}` must start with `/` (paths always do), or with `*`"
                ));
            }
            (!case_sensitive, true)
        }
        GlobKind::Host => (true, false),
        GlobKind::UserAgent => (true, false),
        GlobKind::HeaderValue => (false, false),
    };
    let build = |text: &str| {
        GlobBuilder::new(text)
            .literal_separator(separator)
            .case_insensitive(case_insensitive)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map_err(|e| format!("invalid glob `{p}`: {}", glob_reason(&e)))
    };
    // Host names have no character classes; brackets are an IPv6 literal's.
    let literal_brackets;
    let p_glob = if kind == GlobKind::Host {
        literal_brackets = p
            .chars()
            .map(|c| match c {
                '[' => "[[]".to_owned(),
                ']' => "[]]".to_owned(),
                c => c.to_string(),
            })
            .collect::<String>();
        literal_brackets.as_str()
    } else {
        p
    };
    let mut out = vec![build(p_glob)?];
    if let (GlobKind::Path { .. }, Some(dir)) = (kind, p.strip_suffix("/**")) {
        if !dir.is_empty() {
            out.push(build(dir)?);
        }
    }
    Ok(out)
}

fn glob_reason(e: &globset::Error) -> String {
    let text = e.kind().to_string();
    match e.kind() {
        globset::ErrorKind::UnclosedClass => format!("{text} (maybe escape `[` as `[[]`?)"),
        globset::ErrorKind::UnopenedAlternates => format!("{text} (maybe escape `}}` as `[}}]`?)"),
        globset::ErrorKind::UnclosedAlternates => format!("{text} (maybe escape `{{` as `[{{]`?)"),
        _ => text,
    }
}

fn regex_config() -> regex_automata::meta::Config {
    regex_automata::meta::Config::new()
        .match_kind(regex_automata::MatchKind::All)
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .onepass_size_limit(Some(MAX_REGEX_BYTES))
        .dfa_size_limit(Some(MAX_REGEX_BYTES))
        .hybrid_cache_capacity(MAX_REGEX_BYTES)
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().nest_limit(64)
}

/// The anchored form of a written regular expression.
pub(crate) fn anchored(p: &str) -> String {
    format!("^(?:{p})$")
}

/// Checks one regular expression, so that an error can name it.
pub(crate) fn check_regex(p: &str) -> Result<String, String> {
    check_text(p, "regex")?;
    // The bare pattern must parse on its own: then it cannot close the anchoring group early
    // (`v1)|(v2` would make `^(?:v1)|(v2)$`, whose first branch is not anchored at the end).
    regex_automata::util::syntax::parse_with(p, &syntax_config())
        .map_err(|e| format!("invalid regex `{p}`: {}", last_line(&e.to_string())))?;
    let text = anchored(p);
    Regex::builder()
        .configure(regex_config())
        .syntax(syntax_config())
        .build(&text)
        .map_err(|e| format!("invalid regex `{p}`: {}", last_line(&e.to_string())))?;
    Ok(text)
}

/// Builds one matcher for many anchored regular expressions, already checked one by one.
pub(crate) fn regex_set(patterns: &[String]) -> Result<Regex, String> {
    Regex::builder()
        .configure(regex_config())
        .syntax(syntax_config())
        .build_many(patterns)
        .map_err(|e| format!("the regexes of one header are too large together: {e}"))
}

/// The last line of an error: regex errors end with the reason.
fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_matches(glob: &str, path: &str) -> bool {
        globs(
            glob,
            GlobKind::Path {
                case_sensitive: true,
            },
        )
        .unwrap()
        .iter()
        .any(|g| g.compile_matcher().is_match(path))
    }

    #[test]
    fn path_glob_semantics() {
        let cases = [
            ("/admin/**", "/admin", true),
            ("/admin/**", "/admin/", true),
            ("/admin/**", "/admin/users/1", true),
            ("/admin/**", "/administrator", false),
            ("/api/*", "/api/users", true),
            ("/api/*", "/api/users/1", false),
            ("/api/*/items", "/api/7/items", true),
            ("/**", "/", true),
            ("/**", "/anything/at/all", true),
            ("**/secret", "/a/b/secret", true),
            ("/files/*.txt", "/files/a.txt", true),
            ("/files/*.txt", "/files/sub/a.txt", false),
            ("/v{1,2}/x", "/v2/x", true),
            ("/Admin/**", "/admin/x", false),
        ];
        for (glob, path, want) in cases {
            assert_eq!(path_matches(glob, path), want, "{glob} ~ {path}");
        }
        let ci = globs(
            "/Admin/**",
            GlobKind::Path {
                case_sensitive: false,
            },
        )
        .unwrap();
        assert!(ci.iter().any(|g| g.compile_matcher().is_match("/ADMIN/x")));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        let path = GlobKind::Path {
            case_sensitive: true,
        };
        let cases = [
            (globs("", path).unwrap_err(), "empty glob"),
            (globs(" /a", path).unwrap_err(), "stray whitespace"),
            (globs("/a ", path).unwrap_err(), "stray whitespace"),
            (globs("admin/**", path).unwrap_err(), "must start with `/`"),
            (globs("/a[b", path).unwrap_err(), "maybe escape"),
            (globs("/a}b", path).unwrap_err(), "maybe escape"),
            (
                globs(&format!("/{}", "a".repeat(2000)), path).unwrap_err(),
                "longer than",
            ),
            (globs("/a\nb", path).unwrap_err(), "control character"),
            (check_regex("(unclosed").unwrap_err(), "invalid regex"),
            (check_regex("a{1000}{1000}").unwrap_err(), "invalid regex"),
            (check_regex("v1)|(v2").unwrap_err(), "invalid regex"),
        ];
        for (err, want) in cases {
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    #[test]
    fn regexes_are_anchored() {
        let re = regex_set(&[check_regex("ab+").unwrap()]).unwrap();
        assert!(re.is_match("abbb"));
        assert!(!re.is_match("xabbb"));
        assert!(!re.is_match("abbbx"));
    }
}
