//! The glob matchers against an independent, character-by-character reference matcher.

use super::syntax::Token;
use super::*;
use crate::compile::patterns::{globs, GlobKind};
use proptest::prelude::*;
use proptest::sample::select;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Unicode simple case folding, approximated from the standard library's case mappings:
/// a character's lower case of its upper case, when both are one character. U+0131 DOTLESS I
/// is the one character (among those the tests use) whose upper case `I` it only folds with
/// under Turkic rules, which simple folding leaves out.
pub(crate) fn fold(c: char) -> char {
    fn one(mut it: impl Iterator<Item = char>) -> Option<char> {
        let c = it.next()?;
        it.next().is_none().then_some(c)
    }
    if c == '\u{131}' {
        return c;
    }
    one(c.to_uppercase())
        .and_then(|u| one(u.to_lowercase()))
        .unwrap_or(c)
}

/// Every character with the same fold as `c`.
fn orbit(c: char) -> &'static [char] {
    static ORBITS: OnceLock<HashMap<char, Vec<char>>> = OnceLock::new();
    let orbits = ORBITS.get_or_init(|| {
        let mut m: HashMap<char, Vec<char>> = HashMap::new();
        for x in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            m.entry(fold(x)).or_default().push(x);
        }
        m
    });
    orbits.get(&fold(c)).map_or(&[], Vec::as_slice)
}

/// Every choice of alternatives of a token sequence.
fn expand(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut out = vec![Vec::new()];
    for t in tokens {
        match t {
            Token::Alternates(branches) => {
                let tails: Vec<Vec<Token>> = branches.iter().flat_map(|b| expand(b)).collect();
                out = out
                    .iter()
                    .flat_map(|head| {
                        tails
                            .iter()
                            .map(move |tail| [head.clone(), tail.clone()].concat())
                    })
                    .collect();
            }
            t => out.iter_mut().for_each(|v| v.push(t.clone())),
        }
    }
    out
}

/// A plain backtracking matcher, character by character: what every strategy must agree
/// with.
fn plain(p: &[Token], v: &[char], path: bool, ci: bool) -> bool {
    let sep = |c: &char| path && *c == '/';
    let Some((t, rest)) = p.split_first() else {
        return v.is_empty();
    };
    let tail = v.get(1..).unwrap_or(&[]);
    match t {
        Token::Literal(c) => {
            v.first()
                .is_some_and(|x| x == c || (ci && fold(*x) == fold(*c)))
                && plain(rest, tail, path, ci)
        }
        Token::One => v.first().is_some_and(|x| !sep(x)) && plain(rest, tail, path, ci),
        Token::Star => (0..=v.len())
            .take_while(|&k| k == 0 || !sep(&v[k - 1]))
            .any(|k| plain(rest, &v[k..], path, ci)),
        Token::Globstar => match rest.split_first() {
            Some((Token::Literal('/'), after)) => (0..=v.len())
                .filter(|&k| k == 0 || v[k - 1] == '/')
                .any(|k| plain(after, &v[k..], path, ci)),
            _ => (0..=v.len()).any(|k| plain(rest, &v[k..], path, ci)),
        },
        Token::Class { negated, ranges } => {
            v.first().is_some_and(|&x| {
                let candidates: &[char] = if ci {
                    orbit(x)
                } else {
                    std::slice::from_ref(&x)
                };
                let inside = candidates
                    .iter()
                    .any(|y| ranges.iter().any(|&(lo, hi)| lo <= *y && *y <= hi));
                !sep(&x) && inside != *negated
            }) && plain(rest, tail, path, ci)
        }
        Token::Alternates(_) => false,
    }
}

fn plain_match(glob: &Glob, value: &str, mode: GlobMode) -> bool {
    let v: Vec<char> = value.chars().collect();
    expand(glob.tokens())
        .iter()
        .any(|p| plain(p, &v, mode.path(), mode.case_insensitive()))
}

/// The globs of written patterns as the compiler makes them.
fn compile(patterns: &[String], kind: GlobKind) -> Vec<Glob> {
    patterns
        .iter()
        .flat_map(|p| globs(p, kind).unwrap())
        .collect()
}

/// The matcher's answer and the plain matcher's, one glob at a time, as sorted glob ids.
fn both(globs: &[Glob], mode: GlobMode, value: &str) -> (Vec<usize>, Vec<usize>) {
    let matcher = GlobMatcher::build(globs, mode).unwrap();
    let mut got = matcher.matches(value);
    got.sort_unstable();
    got.dedup();
    let want = globs
        .iter()
        .enumerate()
        .filter(|(_, g)| plain_match(g, value, mode))
        .map(|(i, _)| i)
        .collect();
    (got, want)
}

const PATH_SEGMENTS: &[&str] = &[
    "a",
    "b",
    "ab",
    "api",
    "x.pdf",
    "",
    "*",
    "*.pdf",
    "a*",
    "*b*",
    "**",
    "{a,b}",
    "{a,}",
    "a?",
    "?",
    "[ab]",
    "[\u{e4}b]",
    "[!a]",
    "[a-z]",
    "a*b",
    "caf\u{e9}",
    "\u{c4}DMIN",
    "\u{431}\u{43e}\u{442}",
    "\\*",
    "k",
];
const VALUE_SEGMENTS: &[&str] = &[
    ".well-known",
    "-",
    "a",
    "A",
    "b",
    "ab",
    "api",
    "x.pdf",
    "",
    "ba",
    "aXb",
    "caf\u{e9}",
    "CAF\u{c9}",
    "\u{e4}",
    "\u{c4}",
    "\u{e4}dmin",
    "\u{c4}DMIN",
    "\u{431}\u{43e}\u{442}",
    "\u{411}\u{41e}\u{422}",
    "\u{20ac}",
    "\u{1f600}",
    "a\u{1f600}",
    "\u{212a}",
    "K",
    "*",
];

fn path_glob() -> impl Strategy<Value = String> {
    (
        select(&["/", "/", "/", "**/", "*"][..]),
        proptest::collection::vec(select(PATH_SEGMENTS), 1..=4),
    )
        .prop_map(|(lead, segs)| format!("{lead}{}", segs.join("/")))
        .prop_filter("a glob the compiler takes", |g| {
            globs(
                g,
                GlobKind::Path {
                    case_sensitive: true,
                    kept_slash: false,
                },
            )
            .is_ok()
        })
}

fn path_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(select(VALUE_SEGMENTS), 1..=5)
        .prop_map(|segs| format!("/{}", segs.join("/")))
}

const TEXT_PIECES: &[&str] = &[
    "bot",
    "BOT",
    "Bot",
    "*",
    "*",
    "a",
    "\u{e9}",
    "\u{c9}",
    "k",
    "K",
    "s",
    "?",
    "[b]",
    ".",
    "-",
    "b\u{e4}d",
    "\u{431}\u{43e}\u{442}",
    "\u{3c3}",
    "[\u{e4}b]",
    "[!a]",
    "{a,\u{e9}}",
    "[\u{3b1}-\u{3c9}]",
];
const TEXT_VALUES: &[&str] = &[
    "bot",
    "BOT",
    "googlebot",
    "GoogleBot/2.1",
    "a",
    "",
    "\u{e9}",
    "\u{c9}",
    "k",
    "\u{212a}",
    "a.b",
    "bot-bot",
    "x",
    "\u{17f}",
    "S",
    "B\u{c4}D",
    "b\u{e4}d",
    "\u{417}\u{41b}\u{41e}\u{419} \u{411}\u{41e}\u{422}",
    "\u{3a3}",
    "\u{3c2}",
    "\u{1f600}",
    "\u{20ac}",
];

fn text_glob() -> impl Strategy<Value = String> {
    proptest::collection::vec(select(TEXT_PIECES), 1..=4).prop_map(|p| p.concat())
}

fn text_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(select(TEXT_VALUES), 0..=3).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]

    #[test]
    fn path_strategies_agree_with_a_plain_matcher(
        patterns in proptest::collection::vec(path_glob(), 1..=6),
        values in proptest::collection::vec(path_value(), 1..=6),
    ) {
        for case_sensitive in [true, false] {
            let kind = GlobKind::Path { case_sensitive, kept_slash: false };
            let globs = compile(&patterns, kind);
            for value in &values {
                let (got, want) = both(&globs, GlobMode::Path { case_sensitive }, value);
                prop_assert_eq!(got, want, "{:?} on {:?}", patterns, value);
            }
        }
    }

    #[test]
    fn text_strategies_agree_with_a_plain_matcher(
        patterns in proptest::collection::vec(text_glob(), 1..=6),
        values in proptest::collection::vec(text_value(), 1..=6),
    ) {
        for (kind, case_sensitive) in [(GlobKind::UserAgent, false), (GlobKind::HeaderValue, true)] {
            let globs = compile(&patterns, kind);
            for value in &values {
                let (got, want) = both(&globs, GlobMode::Text { case_sensitive }, value);
                prop_assert_eq!(got, want, "{:?} on {:?}", patterns, value);
            }
        }
    }
}

#[test]
fn many_text_globs_go_to_the_fallback() {
    let patterns: Vec<String> = (0..40).map(|i| format!("*agent{i}*")).collect();
    let globs = compile(&patterns, GlobKind::UserAgent);
    for value in [
        "x AGENT7 y",
        "agent39",
        "agent",
        "\u{e9}agent3",
        "\u{e9}AGENT3",
    ] {
        let (got, want) = both(
            &globs,
            GlobMode::Text {
                case_sensitive: false,
            },
            value,
        );
        assert_eq!(got, want, "{value}");
    }
}

/// The review's examples, and their classes, through the whole matcher.
#[test]
fn each_strategy_matches_per_character_and_folds_unicode_case() {
    let path = GlobMode::Path {
        case_sensitive: true,
    };
    let path_ci = GlobMode::Path {
        case_sensitive: false,
    };
    let ua = GlobMode::Text {
        case_sensitive: false,
    };
    let header = GlobMode::Text {
        case_sensitive: true,
    };
    let host = GlobMode::Text {
        case_sensitive: false,
    };
    let pk = |ci: bool| GlobKind::Path {
        case_sensitive: !ci,
        kept_slash: false,
    };
    let cases: &[(&str, GlobKind, GlobMode, &str, bool)] = &[
        // `?` takes one character of 2, 3 or 4 bytes.
        ("/x/?", pk(false), path, "/x/\u{e9}", true),
        ("/x/?", pk(false), path, "/x/\u{20ac}", true),
        ("/x/?", pk(false), path, "/x/\u{1f600}", true),
        ("/x/?", pk(false), path, "/x/ab", false),
        ("/x/?", pk(true), path_ci, "/X/\u{1f600}", true),
        ("/x/a?", pk(false), path, "/x/a\u{e9}", true),
        // Classes and negated classes take one character.
        ("/x/[\u{e4}b]", pk(false), path, "/x/\u{e4}", true),
        ("/x/[\u{e4}b]", pk(false), path, "/x/\u{c4}", false),
        ("/x/[\u{e4}b]", pk(true), path_ci, "/x/\u{c4}", true),
        ("/x/[!a]", pk(false), path, "/x/\u{e9}", true),
        ("/x/[!a]", pk(false), path, "/x/\u{20ac}", true),
        ("/x/[!a]", pk(false), path, "/x/\u{1f600}", true),
        ("/x/[!a]", pk(true), path_ci, "/x/A", false),
        (
            "/x/[\u{1f600}-\u{1f64f}]",
            pk(false),
            path,
            "/x/\u{1f610}",
            true,
        ),
        // Case-insensitive paths fold Unicode case.
        ("/\u{e4}dmin/**", pk(true), path_ci, "/\u{c4}DMIN/x", true),
        ("/\u{e4}dmin/**", pk(false), path, "/\u{c4}DMIN/x", false),
        ("/admin/**", pk(true), path_ci, "/ADMIN/x", true),
        ("/\u{3c3}/*", pk(true), path_ci, "/\u{3a3}/x", true),
        // User-Agents fold Unicode case: Latin, Cyrillic, Greek.
        (
            "*b\u{e4}dbot*",
            GlobKind::UserAgent,
            ua,
            "BADBOT B\u{c4}DBOT",
            true,
        ),
        (
            "*\u{431}\u{43e}\u{442}*",
            GlobKind::UserAgent,
            ua,
            "\u{417}\u{41b}\u{41e}\u{419} \u{411}\u{41e}\u{422}",
            true,
        ),
        (
            "*\u{3ba}\u{3b1}\u{3ba}\u{3cc}*",
            GlobKind::UserAgent,
            ua,
            "\u{39a}\u{391}\u{39a}\u{38c}",
            true,
        ),
        ("*bot*", GlobKind::UserAgent, ua, "\u{e9}BOT", true),
        ("*sqlmap*", GlobKind::UserAgent, ua, "\u{17f}qlmap", true),
        ("*kit*", GlobKind::UserAgent, ua, "\u{212a}IT \u{e9}", true),
        ("*k?t*", GlobKind::UserAgent, ua, "\u{212a}\u{e9}T", true),
        ("*bot*", GlobKind::UserAgent, ua, "b\u{f6}t", false),
        // Header values are case-sensitive, per character.
        ("pr?d", GlobKind::HeaderValue, header, "pr\u{f6}d", true),
        ("pr?d", GlobKind::HeaderValue, header, "PR\u{f6}D", false),
        ("[!a]", GlobKind::HeaderValue, header, "\u{1f600}", true),
        // Hosts are ASCII: folding is ASCII folding.
        (
            "*.Example.com",
            GlobKind::Host,
            host,
            "api.example.com",
            true,
        ),
        ("[::1]", GlobKind::Host, host, "[::1]", true),
        ("?.example.com", GlobKind::Host, host, "a.example.com", true),
    ];
    for &(pattern, kind, mode, value, want) in cases {
        let globs = compile(&[pattern.to_owned()], kind);
        let (got, plain) = both(&globs, mode, value);
        assert_eq!(!got.is_empty(), want, "{pattern} ~ {value}");
        assert_eq!(got, plain, "{pattern} ~ {value}");
    }
}

/// The fold used by the plain matchers agrees with the regex engine's `(?i)` on every
/// character the tests use.
#[test]
fn the_plain_fold_agrees_with_the_regex_engine() {
    let chars: Vec<char> = PATH_SEGMENTS
        .iter()
        .chain(VALUE_SEGMENTS)
        .chain(TEXT_PIECES)
        .chain(TEXT_VALUES)
        .flat_map(|s| s.chars())
        .chain([
            '\u{131}', '\u{130}', 'i', 'I', '\u{df}', '\u{1e9e}', '\u{3c2}', '\u{3d0}',
        ])
        .collect();
    for &a in &chars {
        let re =
            regex_automata::meta::Regex::new(&format!("(?i)^\\x{{{:X}}}$", u32::from(a))).unwrap();
        for &b in &chars {
            let mut buf = [0u8; 4];
            let want = re.is_match(b.encode_utf8(&mut buf).as_bytes());
            assert_eq!(fold(a) == fold(b), want, "{a:?} {b:?}");
        }
    }
}
