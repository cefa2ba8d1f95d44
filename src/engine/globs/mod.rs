//! The globs of one slot, each served by the cheapest strategy that can.
//!
//! At compile time every glob is sorted into a strategy, as globset does for its own: path
//! globs made of literal segments, `*`, segment globs and a trailing `**` go into one tree of
//! segments ([`trie`]); other globs of literal text and `*` are matched piece by piece
//! ([`wildcard`]); everything else (`?`, classes, alternations, `**` elsewhere) goes to globset
//! ([`grouped`]). Each strategy keeps the glob ids of the slot, so a match maps straight back to
//! the conditions that wrote it.

pub(crate) mod grouped;
mod trie;
mod wildcard;

use globset::Glob;

use grouped::GlobIndex;
use trie::{PathTrie, TrieBuilder, Walk};
use wildcard::Wildcard;

/// More text globs than this in one slot go to globset, whose prefix, suffix and automaton
/// strategies serve many at a cost that does not grow with their number.
const MAX_WILDCARDS: usize = 16;

/// How the globs of a slot read their value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobMode {
    /// A path: `*` stays within a segment, `**` crosses them.
    Path {
        /// Whether letters must match in case.
        case_sensitive: bool,
    },
    /// Any other text: `*` takes any characters.
    Text {
        /// Whether letters must match in case.
        case_sensitive: bool,
    },
}

/// The compiled globs of one slot.
#[derive(Debug, Clone)]
pub(crate) struct GlobMatcher {
    trie: Option<PathTrie>,
    /// Text globs of literal text and `*` (matching ASCII in either case when case is ignored).
    wild: Vec<(Wildcard, usize)>,
    wild_case_sensitive: bool,
    /// The globs no strategy above takes.
    rest: GlobIndex,
    /// Every glob, when `wild` ignores case: for values that are not ASCII, whose case folding
    /// only globset's Unicode-aware matching gets right.
    unicode: Option<GlobIndex>,
    len: usize,
}

/// Reusable buffers for matching.
#[derive(Debug, Default)]
pub(crate) struct GlobScratch {
    local: Vec<usize>,
    walk: Walk,
}

impl GlobMatcher {
    /// Compiles `globs` (their ids are their positions) for values read as `mode` says.
    pub(crate) fn build(globs: &[Glob], mode: GlobMode) -> Result<GlobMatcher, String> {
        let mut rest = Vec::new();
        let mut trie = None;
        let mut wild = Vec::new();
        let mut wild_case_sensitive = true;
        let mut group_by_segment = false;
        match mode {
            GlobMode::Path {
                case_sensitive: true,
            } => {
                let mut b = TrieBuilder::new();
                for (id, g) in globs.iter().enumerate() {
                    if !b.add(id, g.glob()) {
                        rest.push((id, g));
                    }
                }
                trie = b.build();
                group_by_segment = true;
            }
            GlobMode::Path {
                case_sensitive: false,
            } => rest.extend(globs.iter().enumerate()),
            GlobMode::Text { case_sensitive } => {
                wild_case_sensitive = case_sensitive;
                for (id, g) in globs.iter().enumerate() {
                    let w = Wildcard::parse(g.glob().as_bytes());
                    let w = if case_sensitive {
                        w
                    } else {
                        w.and_then(|w| w.ascii_case_insensitive())
                    };
                    match w {
                        Some(w) => wild.push((w, id)),
                        None => rest.push((id, g)),
                    }
                }
                if wild.len() > MAX_WILDCARDS {
                    wild.clear();
                    rest = globs.iter().enumerate().collect();
                }
            }
        }
        let unicode = if !wild_case_sensitive && !wild.is_empty() {
            Some(GlobIndex::build(globs.iter().enumerate(), false)?)
        } else {
            None
        };
        Ok(GlobMatcher {
            trie,
            wild,
            wild_case_sensitive,
            rest: GlobIndex::build(rest, group_by_segment)?,
            unicode,
            len: globs.len(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids of the globs `value` matches, into `out` (cleared first; not sorted). A value
    /// that is not UTF-8 matches no glob.
    pub(crate) fn matches_into(&self, value: &[u8], out: &mut Vec<usize>, s: &mut GlobScratch) {
        out.clear();
        if let Some(trie) = &self.trie {
            trie.matches_into(value, out, &mut s.walk);
        }
        if !self.wild.is_empty() {
            if !self.wild_case_sensitive && !value.is_ascii() {
                if let (Some(all), Ok(text)) = (&self.unicode, std::str::from_utf8(value)) {
                    all.matches_into(text, out, &mut s.local);
                }
                return;
            }
            out.extend(
                self.wild
                    .iter()
                    .filter(|(w, _)| w.is_match(value))
                    .map(|&(_, id)| id),
            );
        }
        if !self.rest.is_empty() {
            if let Ok(text) = std::str::from_utf8(value) {
                self.rest.matches_into(text, out, &mut s.local);
            }
        }
    }

    /// The ids of the globs `text` matches. Allocates.
    pub(crate) fn matches(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(text.as_bytes(), &mut out, &mut GlobScratch::default());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::patterns::{globs, GlobKind};
    use proptest::prelude::*;
    use proptest::sample::select;

    /// The globs of written patterns as the compiler makes them, and their written index.
    fn compile(patterns: &[String], kind: GlobKind) -> Vec<(Glob, usize)> {
        patterns
            .iter()
            .enumerate()
            .flat_map(|(i, p)| globs(p, kind).unwrap().into_iter().map(move |g| (g, i)))
            .collect()
    }

    /// The matcher's answer and globset's, one glob at a time, as sorted glob ids.
    fn both(globs: &[(Glob, usize)], mode: GlobMode, value: &str) -> (Vec<usize>, Vec<usize>) {
        let plain: Vec<Glob> = globs.iter().map(|(g, _)| g.clone()).collect();
        let matcher = GlobMatcher::build(&plain, mode).unwrap();
        let mut got = matcher.matches(value);
        got.sort_unstable();
        let want = plain
            .iter()
            .enumerate()
            .filter(|(_, g)| g.compile_matcher().is_match(value))
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
        "a?",
        "[ab]",
        "a*b",
        "caf\u{e9}",
        "\\*",
    ];
    const VALUE_SEGMENTS: &[&str] = &[
        ".well-known",
        "-",
        "a",
        "b",
        "ab",
        "api",
        "x.pdf",
        "",
        "ba",
        "aXb",
        "caf\u{e9}",
        "*",
    ];

    fn path_glob() -> impl Strategy<Value = String> {
        (
            select(&["/", "/", "/", "**/", "*"][..]),
            proptest::collection::vec(select(PATH_SEGMENTS), 1..=4),
        )
            .prop_map(|(lead, segs)| format!("{lead}{}", segs.join("/")))
    }

    fn path_value() -> impl Strategy<Value = String> {
        proptest::collection::vec(select(VALUE_SEGMENTS), 1..=5)
            .prop_map(|segs| format!("/{}", segs.join("/")))
    }

    const TEXT_PIECES: &[&str] = &[
        "bot", "BOT", "Bot", "*", "*", "a", "\u{e9}", "\u{c9}", "k", "K", "?", "[b]", ".", "-",
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
        fn path_strategies_agree_with_globset(
            patterns in proptest::collection::vec(path_glob(), 1..=6),
            values in proptest::collection::vec(path_value(), 1..=6),
        ) {
            for case_sensitive in [true, false] {
                let kind = GlobKind::Path { case_sensitive };
                let globs = compile(&patterns, kind);
                for value in &values {
                    let (got, want) = both(&globs, GlobMode::Path { case_sensitive }, value);
                    prop_assert_eq!(got, want, "{:?} on {:?}", patterns, value);
                }
            }
        }

        #[test]
        fn text_strategies_agree_with_globset(
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
    fn many_text_globs_go_to_globset() {
        let patterns: Vec<String> = (0..40).map(|i| format!("*agent{i}*")).collect();
        let globs = compile(&patterns, GlobKind::UserAgent);
        for value in ["x AGENT7 y", "agent39", "agent", "\u{e9}agent3"] {
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
}
