//! Tests of the glob syntax: parsing, refusals and the regexes globs become.

use super::*;
use regex_automata::meta::Regex;

fn lit(s: &str) -> Vec<Token> {
    s.chars().map(Token::Literal).collect()
}

#[test]
fn parses_the_documented_syntax() {
    use Token::*;
    let class = |negated, ranges: &[(char, char)]| Class {
        negated,
        ranges: ranges.to_vec(),
    };
    let cases: Vec<(&str, Dialect, Vec<Token>)> = vec![
        ("/a", Dialect::Path, lit("/a")),
        (
            "/a/*",
            Dialect::Path,
            vec![Literal('/'), Literal('a'), Literal('/'), Star],
        ),
        (
            "/a/**",
            Dialect::Path,
            vec![Literal('/'), Literal('a'), Literal('/'), Globstar],
        ),
        (
            "**/b",
            Dialect::Path,
            vec![Globstar, Literal('/'), Literal('b')],
        ),
        ("**", Dialect::Path, vec![Globstar]),
        (
            "a**b",
            Dialect::Text,
            vec![Literal('a'), Star, Literal('b')],
        ),
        ("?", Dialect::Text, vec![One]),
        (
            "[ab]",
            Dialect::Text,
            vec![class(false, &[('a', 'a'), ('b', 'b')])],
        ),
        ("[!a-z]", Dialect::Text, vec![class(true, &[('a', 'z')])]),
        ("[^a]", Dialect::Text, vec![class(true, &[('a', 'a')])]),
        (
            "[]a]",
            Dialect::Text,
            vec![class(false, &[(']', ']'), ('a', 'a')])],
        ),
        ("[!]]", Dialect::Text, vec![class(true, &[(']', ']')])]),
        (
            "[-a-]",
            Dialect::Text,
            vec![class(false, &[('-', '-'), ('a', 'a'), ('-', '-')])],
        ),
        ("[\\]", Dialect::Text, vec![class(false, &[('\\', '\\')])]),
        ("[ä-ö]", Dialect::Text, vec![class(false, &[('ä', 'ö')])]),
        (
            "{a,}",
            Dialect::Text,
            vec![Alternates(vec![lit("a"), vec![]])],
        ),
        (
            "{a,{b,c}}",
            Dialect::Text,
            vec![Alternates(vec![
                lit("a"),
                vec![Alternates(vec![lit("b"), lit("c")])],
            ])],
        ),
        ("a,b", Dialect::Text, lit("a,b")),
        ("\\*\\?\\[\\{\\\\", Dialect::Text, lit("*?[{\\")),
        ("[::1]", Dialect::Host, lit("[::1]")),
    ];
    for (text, dialect, want) in cases {
        assert_eq!(
            Glob::parse(text, dialect).map(|g| g.tokens),
            Ok(want),
            "{text}"
        );
    }
}

#[test]
fn malformed_globs_are_refused_with_a_hint() {
    let cases = [
        ("/a[b", Dialect::Path, "maybe escape `[` as `[[]`"),
        ("/a}b", Dialect::Path, "maybe escape `}` as `[}]`"),
        ("/a{b", Dialect::Path, "maybe escape `{` as `[{]`"),
        ("a{b", Dialect::Host, "maybe escape `{` as `\\{`"),
        ("/a\\", Dialect::Path, "dangling"),
        ("/[z-a]", Dialect::Path, "write `a-z`"),
        ("/[[:alpha:]]", Dialect::Path, "POSIX"),
        ("/a**", Dialect::Path, "whole path segment"),
        ("/**a", Dialect::Path, "whole path segment"),
        ("/***", Dialect::Path, "whole path segment"),
        ("/{**,a}", Dialect::Path, "whole path segment"),
        ("/{a/**,b}", Dialect::Path, "whole path segment"),
    ];
    for (text, dialect, want) in cases {
        let err = Glob::parse(text, dialect).unwrap_err();
        assert!(err.contains(want), "{text}: {err}");
    }
    let deep = format!(
        "{}{}",
        "{".repeat(MAX_ALTERNATE_DEPTH + 1),
        "}".repeat(MAX_ALTERNATE_DEPTH + 1)
    );
    assert!(Glob::parse(&deep, Dialect::Text)
        .unwrap_err()
        .contains("nested"));
    let ok = format!(
        "{}{}",
        "{".repeat(MAX_ALTERNATE_DEPTH),
        "}".repeat(MAX_ALTERNATE_DEPTH)
    );
    let g = Glob::parse(&ok, Dialect::Path).unwrap();
    // The deepest accepted nesting stays within the regex parser's limit.
    assert!(Regex::new(&g.regex(true, true)).is_ok());
}

/// Whether `glob` matches `value`, through the regex translation.
fn matches(glob: &str, dialect: Dialect, ci: bool, value: &str) -> bool {
    let g = Glob::parse(glob, dialect).unwrap();
    let re = Regex::new(&g.regex(dialect == Dialect::Path, ci)).unwrap();
    re.is_match(value)
}

#[test]
fn regexes_match_per_character() {
    let cases: &[(&str, Dialect, bool, &str, bool)] = &[
        // `?` and classes take one character of 2, 3 or 4 bytes.
        ("/x/?", Dialect::Path, false, "/x/\u{e9}", true),
        ("/x/?", Dialect::Path, false, "/x/\u{20ac}", true),
        ("/x/?", Dialect::Path, false, "/x/\u{1f600}", true),
        ("/x/?", Dialect::Path, false, "/x/ab", false),
        ("/x/?", Dialect::Path, false, "/x//", false),
        ("/x/[\u{e4}b]", Dialect::Path, false, "/x/\u{e4}", true),
        ("/x/[\u{e4}b]", Dialect::Path, false, "/x/\u{c4}", false),
        ("/x/[\u{e4}b]", Dialect::Path, true, "/x/\u{c4}", true),
        ("/x/[!a]", Dialect::Path, false, "/x/\u{e9}", true),
        ("/x/[!a]", Dialect::Path, false, "/x/\u{1f600}", true),
        ("/x/[!a]", Dialect::Path, false, "/x/a", false),
        ("/x[!a]y", Dialect::Path, false, "/x/y", false),
        ("/x[!a]", Dialect::Path, true, "/xA", false),
        ("/x[--0]y", Dialect::Path, false, "/x/y", false),
        ("/x[--0]y", Dialect::Path, false, "/x.y", true),
        ("/x[/]y", Dialect::Path, false, "/x/y", false),
        ("x[!a]y", Dialect::Text, false, "x/y", true),
        ("?", Dialect::Text, false, "\u{10348}", true),
        // Case folding is Unicode's simple folding.
        ("*b\u{e4}dbot*", Dialect::Text, true, "BÄDBOT/1", true),
        (
            "*\u{431}\u{43e}\u{442}*",
            Dialect::Text,
            true,
            "ЗЛОЙ БОТ",
            true,
        ),
        ("*\u{3b1}\u{3c3}*", Dialect::Text, true, "ΑΣ", true),
        ("/\u{e4}dmin/**", Dialect::Path, true, "/ÄDMIN/x", true),
        ("/\u{e4}dmin/**", Dialect::Path, false, "/ÄDMIN/x", false),
        ("*k*", Dialect::Text, true, "\u{212a}", true),
        ("*s*", Dialect::Text, true, "\u{17f}", true),
        ("[a-z]", Dialect::Text, true, "\u{212a}", true),
        // `**` crosses segments only as a whole segment.
        ("/a/**", Dialect::Path, false, "/a/b/c", true),
        ("/a/**", Dialect::Path, false, "/a/", true),
        ("/a/**", Dialect::Path, false, "/ab", false),
        ("/a/**/b", Dialect::Path, false, "/a/b", true),
        ("/a/**/b", Dialect::Path, false, "/a/x/y/b", true),
        ("/a/**/b", Dialect::Path, false, "/a/xb", false),
        ("**/s", Dialect::Path, false, "/s", true),
        ("**/s", Dialect::Path, false, "/a/b/s", true),
        ("**/s", Dialect::Path, false, "/as", false),
        ("**", Dialect::Path, false, "/a/b", true),
        ("/*", Dialect::Path, false, "/a/b", false),
        ("a*b", Dialect::Text, false, "a/x/b", true),
        ("/v{1,2,}/x", Dialect::Path, false, "/v/x", true),
        ("/v{1,2,}/x", Dialect::Path, false, "/v3/x", false),
        // Regex syntax in a glob is literal.
        ("/a.b", Dialect::Path, false, "/axb", false),
        ("(a|b)+$", Dialect::Text, false, "(a|b)+$", true),
        ("[::1]", Dialect::Host, false, "[::1]", true),
        ("[::1]", Dialect::Host, false, ":", false),
    ];
    for &(glob, dialect, ci, value, want) in cases {
        assert_eq!(
            matches(glob, dialect, ci, value),
            want,
            "{glob} ~ {value} (ci {ci})"
        );
    }
}
