//! Globs and regular expressions: validated, translated and size-limited at compile time.

use regex_automata::meta::Regex;

use crate::compile::never_match::{check_host_glob, check_path_glob};
use crate::engine::globs::syntax::{Dialect, Token};
use crate::engine::globs::Glob;
use crate::engine::regex::{regex_config, syntax_config};

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// What a glob is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobKind {
    /// A path: `/` separates segments; `*` stays in one, `**` crosses them.
    Path {
        case_sensitive: bool,
        /// Whether a reading keeps `%2F` inside its segment (`encoded_slash = "both"`).
        kept_slash: bool,
    },
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
/// A path glob ending in `/**` also covers the directory itself: `/admin/**` matches `/admin`,
/// and `/**` matches the asterisk form `*` too;
/// one ending in anything but `/` or `**` also covers the path with a trailing slash: `/admin`
/// matches `/admin/`.
pub(crate) fn globs(p: &str, kind: GlobKind) -> Result<Vec<Glob>, String> {
    check_text(p, "glob")?;
    let dialect = match kind {
        GlobKind::Path { .. } => {
            if !p.starts_with('/') && !p.starts_with('*') {
                return Err(format!(
                    "path glob `{p}` must start with `/` (paths always do), or with `*`"
                ));
            }
            Dialect::Path
        }
        // Host names have no character classes; brackets are an IPv6 literal's.
        GlobKind::Host => Dialect::Host,
        GlobKind::UserAgent | GlobKind::HeaderValue => Dialect::Text,
    };
    let glob = Glob::parse(p, dialect).map_err(|e| format!("invalid glob `{p}`: {e}"))?;
    match kind {
        GlobKind::Path {
            kept_slash,
            case_sensitive,
        } => check_path_glob(p, glob.tokens(), kept_slash, case_sensitive)?,
        GlobKind::Host => check_host_glob(p, glob.tokens())?,
        GlobKind::UserAgent | GlobKind::HeaderValue => {}
    }
    let mut out = Vec::with_capacity(2);
    if let GlobKind::Path { .. } = kind {
        match glob.tokens() {
            // `/**`, every path, also covers the asterisk form (`OPTIONS *`), which frameworks
            // send to their fallback handler.
            [Token::Literal('/'), Token::Globstar] => {
                out.push(Glob::from_tokens(vec![Token::Literal('*')]));
            }
            // `/admin/**` also covers the directory itself.
            [dir @ .., Token::Literal('/'), Token::Globstar] => {
                if !dir.is_empty() {
                    out.push(Glob::from_tokens(dir.to_vec()));
                }
            }
            [.., Token::Literal('/')] | [.., Token::Globstar] | [] => {}
            // Express (non-strict routing), Rails, Laravel and Spring MVC route `/admin/` to
            // the `/admin` handler: a glob without a trailing slash also covers the path
            // with one.
            tokens => {
                let mut slashed = tokens.to_vec();
                slashed.push(Token::Literal('/'));
                out.push(Glob::from_tokens(slashed));
            }
        }
    }
    out.insert(0, glob);
    Ok(out)
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

    const PATH: GlobKind = GlobKind::Path {
        case_sensitive: true,
        kept_slash: false,
    };
    const PATH_CI: GlobKind = GlobKind::Path {
        case_sensitive: false,
        kept_slash: false,
    };
    const PATH_KEPT: GlobKind = GlobKind::Path {
        case_sensitive: true,
        kept_slash: true,
    };

    fn path_matches(glob: &str, path: &str, case_sensitive: bool) -> bool {
        let kind = if case_sensitive { PATH } else { PATH_CI };
        globs(glob, kind).unwrap().iter().any(|g| {
            Regex::new(&g.regex(true, !case_sensitive))
                .unwrap()
                .is_match(path)
        })
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
            assert_eq!(path_matches(glob, path, true), want, "{glob} ~ {path}");
        }
        assert!(path_matches("/Admin/**", "/ADMIN/x", false));
        assert!(path_matches("/\u{e4}dmin/**", "/\u{c4}DMIN/x", false));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        let cases = [
            (globs("", PATH).unwrap_err(), "empty glob"),
            (globs(" /a", PATH).unwrap_err(), "stray whitespace"),
            (globs("/a ", PATH).unwrap_err(), "stray whitespace"),
            (globs("admin/**", PATH).unwrap_err(), "must start with `/`"),
            (globs("/a[b", PATH).unwrap_err(), "maybe escape"),
            (globs("/a}b", PATH).unwrap_err(), "maybe escape"),
            (
                globs(&format!("/{}", "a".repeat(2000)), PATH).unwrap_err(),
                "longer than",
            ),
            (globs("/a\nb", PATH).unwrap_err(), "control character"),
            (check_regex("(unclosed").unwrap_err(), "invalid regex"),
            (check_regex("a{1000}{1000}").unwrap_err(), "invalid regex"),
            (check_regex("v1)|(v2").unwrap_err(), "invalid regex"),
        ];
        for (err, want) in cases {
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    /// Globs that no request the engine accepts can match are refused, each with its reason.
    #[test]
    fn unmatchable_globs_are_refused() {
        let cases: &[(&str, GlobKind, &str)] = &[
            // Hosts are normalised: lower-case, no port, no trailing dot, ASCII.
            ("example.com:8080", GlobKind::Host, "has a port"),
            ("example.com:8080", GlobKind::Host, "(write `example.com`)"),
            ("*:443", GlobKind::Host, "has a port"),
            ("::1", GlobKind::Host, "in brackets"),
            ("example.com.", GlobKind::Host, "ends with a dot"),
            ("example.com.", GlobKind::Host, "(write `example.com`)"),
            ("{a,b.}", GlobKind::Host, "ends with a dot"),
            (".example.com", GlobKind::Host, "`*.example.com`"),
            ("a..b", GlobKind::Host, "`..`"),
            ("b\u{fc}cher.de", GlobKind::Host, "`xn--` form"),
            ("a b", GlobKind::Host, "which no host holds"),
            ("a/b", GlobKind::Host, "which no host holds"),
            ("[::g]", GlobKind::Host, "which no host holds"),
            // Paths are matched decoded.
            ("/caf%C3%A9", PATH, "write `/caf\u{e9}` instead"),
            ("/%61dmin/**", PATH, "write `/admin/**` instead"),
            ("/a%2Fb", PATH, "an encoded `/` is refused"),
            ("/a%2fb", PATH_KEPT, "an encoded `/` is refused"),
            ("/a%25b", PATH, "an encoded `%`"),
            ("/a%3Bb", PATH, "an encoded `;`"),
            ("/a%00", PATH, "an encoded `\\0`"),
            ("/%ff", PATH, "not UTF-8"),
            ("/a%zz", PATH, "holds a `%`"),
            ("/a%", PATH, "holds a `%`"),
            ("/{a,b%41}", PATH, "write `/{a,bA}` instead"),
            // What the request reader refuses.
            ("/a/../b", PATH, "dot segment"),
            ("/./x", PATH, "dot segment"),
            ("/a/..", PATH, "dot segment"),
            ("*/../x", PATH, "dot segment"),
            ("/a/{.,b}/c", PATH, "in one of its alternatives"),
            ("//admin", PATH, "empty segment"),
            ("/a//b", PATH, "empty segment"),
            ("/**//b", PATH, "empty segment"),
            ("/a/{,b}/c", PATH, "empty segment"),
            ("/a\\\\b", PATH, "backslash"),
            ("/a;b", PATH, "`;`"),
            ("/a#b", PATH, "`#`"),
            ("/a\\?b", PATH, "literal `?`"),
            ("/a /b", PATH, "space"),
            ("/a/ b", PATH, "space"),
        ];
        for &(p, kind, want) in cases {
            match globs(p, kind) {
                Ok(_) => panic!("{p} should be refused"),
                Err(e) => assert!(e.contains(want), "{p}: {e:?} should mention {want:?}"),
            }
        }
        let fine: &[(&str, GlobKind)] = &[
            ("example.com", GlobKind::Host),
            ("*.Example.COM", GlobKind::Host),
            ("[::1]", GlobKind::Host),
            ("[2001:db8::*]", GlobKind::Host),
            ("api-{eu,us}.example.com", GlobKind::Host),
            ("xn--bcher-kva.de", GlobKind::Host),
            ("/a%2Fb", PATH_KEPT),
            ("/files/*%2F*", PATH_KEPT),
            ("/caf\u{e9}/**", PATH),
            ("/a b/c", PATH),
            ("/a/?", PATH),
            ("/a/[?;#]", PATH),
            ("/a/", PATH),
            ("/", PATH),
            ("/**/x", PATH),
            ("**/x", PATH),
            ("*", PATH),
            ("/.well-known/**", PATH),
            ("/a...b", PATH),
            ("/a{/b,}/c", PATH),
            ("100%", GlobKind::HeaderValue),
            ("*a b *", GlobKind::UserAgent),
        ];
        for &(p, kind) in fine {
            assert!(globs(p, kind).is_ok(), "{p}: {:?}", globs(p, kind));
        }
    }

    #[test]
    fn a_directory_glob_covers_the_directory() {
        let g = globs("/admin/**", PATH).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1], globs("/admin", PATH).unwrap()[0]);
        // Every path, and the asterisk form.
        let all = globs("/**", PATH).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], Glob::from_tokens(vec![Token::Literal('*')]));
        assert_eq!(globs("/a/", PATH).unwrap().len(), 1);
        // Without a trailing slash, the slashed path is covered too.
        for p in ["/a*", "/admin", "/api/users/*", "/v{1,2}"] {
            let g = globs(p, PATH).unwrap();
            assert_eq!(g.len(), 2, "{p}");
            assert_eq!(g[1], globs(&format!("{p}/"), PATH).unwrap()[0], "{p}");
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
