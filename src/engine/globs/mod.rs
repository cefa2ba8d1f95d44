//! The globs of one slot, each served by the cheapest strategy that can.
//!
//! At compile time every glob is sorted into a strategy: case-sensitive path globs made of
//! literal segments, `*`, segment globs and a trailing `**` go into one tree of segments
//! ([`trie`]); other globs of literal text and `*` are matched piece by piece ([`wildcard`]);
//! everything else (`?`, classes, alternations, `**` elsewhere, case-insensitive paths) is
//! translated into Unicode regexes ([`grouped`]). All of them match per character, not per
//! byte, and fold case as Unicode simple case folding does ([`syntax`] says how; each
//! byte-based strategy says why it is the same). Each strategy keeps the glob ids of the slot,
//! so a match maps straight back to the conditions that wrote it.

pub(crate) mod grouped;
pub(crate) mod syntax;
mod trie;
mod wildcard;

use regex_automata::PatternSet;

use grouped::GlobIndex;
pub(crate) use syntax::Glob;
use syntax::Token;
use trie::{PathTrie, TrieBuilder, Walk};
use wildcard::Wildcard;

/// More text globs than this in one slot go to the regex fallback, whose automaton serves many
/// at a cost that does not grow with their number.
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

impl GlobMode {
    fn path(self) -> bool {
        matches!(self, GlobMode::Path { .. })
    }

    fn case_insensitive(self) -> bool {
        match self {
            GlobMode::Path { case_sensitive } | GlobMode::Text { case_sensitive } => {
                !case_sensitive
            }
        }
    }
}

/// The compiled globs of one slot.
#[derive(Debug, Clone)]
pub(crate) struct GlobMatcher {
    trie: Option<PathTrie>,
    /// Path globs that are the asterisk form `*` itself (what `/**` adds): compared with the
    /// value directly, so that covering `OPTIONS *` costs other paths one length check.
    asterisk: Vec<usize>,
    /// Text globs of literal text and `*` (matching ASCII in either case when case is ignored).
    wild: Vec<(Wildcard, usize)>,
    /// Whether `wild` folds ASCII case.
    wild_fold: bool,
    /// The globs no strategy above takes.
    rest: GlobIndex,
    /// The globs of `wild` whose ASCII folding is not exact on values that are not ASCII (see
    /// [`Wildcard::fold_exact`]), as regexes for such values.
    unicode: GlobIndex,
    len: usize,
}

/// Reusable buffers for matching.
#[derive(Debug, Default)]
pub(crate) struct GlobScratch {
    set: Option<PatternSet>,
    walk: Walk,
}

impl GlobMatcher {
    /// Compiles `globs` (their ids are their positions) for values read as `mode` says.
    pub(crate) fn build(globs: &[Glob], mode: GlobMode) -> Result<GlobMatcher, String> {
        let (path, case_insensitive) = (mode.path(), mode.case_insensitive());
        let mut rest = Vec::new();
        let mut trie = None;
        let mut wild = Vec::new();
        let mut asterisk = Vec::new();
        let literal_asterisk = |g: &Glob| g.tokens() == [Token::Literal('*')];
        let (asterisks, globs_left): (Vec<_>, Vec<_>) = globs
            .iter()
            .enumerate()
            .partition(|(_, g)| path && literal_asterisk(g));
        asterisk.extend(asterisks.into_iter().map(|(id, _)| id));
        match mode {
            GlobMode::Path {
                case_sensitive: true,
            } => {
                let mut b = TrieBuilder::new();
                for &(id, g) in &globs_left {
                    if !b.add(id, g) {
                        rest.push((id, g));
                    }
                }
                trie = b.build();
            }
            // Segments of case-insensitive paths can hold any letter, so no ASCII shortcut.
            GlobMode::Path {
                case_sensitive: false,
            } => rest.extend(globs_left.iter().copied()),
            GlobMode::Text { case_sensitive } => {
                for (id, g) in globs.iter().enumerate() {
                    let w = Wildcard::from_tokens(g.tokens());
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
        let unicode = GlobIndex::build(
            wild.iter()
                .filter(|(w, _)| case_insensitive && !w.fold_exact())
                .filter_map(|&(_, id)| Some((id, globs.get(id)?))),
            path,
            case_insensitive,
        )?;
        Ok(GlobMatcher {
            trie,
            asterisk,
            wild,
            wild_fold: case_insensitive,
            rest: GlobIndex::build(rest, path, case_insensitive)?,
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
        // Values come here as text (paths are decoded and checked, header values are checked
        // readable), and ASCII is text: only other values need the UTF-8 check up front.
        let is_ascii = value.is_ascii();
        if !is_ascii && std::str::from_utf8(value).is_err() {
            return;
        }
        // INVARIANT: `value` is UTF-8 (checked above), so this never yields the empty default.
        let text = || std::str::from_utf8(value).unwrap_or_default();
        if value == b"*" {
            out.extend_from_slice(&self.asterisk);
        }
        if let Some(trie) = &self.trie {
            trie.matches_into(value, out, &mut s.walk);
        }
        if !self.wild.is_empty() {
            // ASCII folding is exact on ASCII values, and on any value for some globs.
            let ascii = !self.wild_fold || is_ascii;
            out.extend(
                self.wild
                    .iter()
                    .filter(|(w, _)| (ascii || w.fold_exact()) && w.is_match(value))
                    .map(|&(_, id)| id),
            );
            if !ascii && !self.unicode.is_empty() {
                self.unicode.matches_into(text(), out, &mut s.set);
            }
        }
        if !self.rest.is_empty() {
            self.rest.matches_into(text(), out, &mut s.set);
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
pub(crate) mod tests;
