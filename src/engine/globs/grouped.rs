//! The regex fallback: globs translated into Unicode regexes and run together, path globs
//! indexed by their first segment.
//!
//! Globs no faster strategy of [`super`] takes are translated (see [`super::syntax`]) and
//! compiled into one multi-pattern regex per group, asked for every pattern that matches at
//! once (as a regex set is). A group's cost grows with the number of globs in it, so most path
//! globs, which start with a literal segment (`/api/...`, `/admin/**`), are grouped by it: a
//! path only meets the group of its own first segment and the globs whose first segment is not
//! literal.

use std::collections::HashMap;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input, PatternSet};

use super::syntax::{Glob, Token};
use crate::engine::regex::{regex_config, syntax_config};

/// Some globs, compiled together (in several regexes when one would be too large), with
/// their ids in the whole index.
#[derive(Debug, Clone, Default)]
struct Group {
    parts: Vec<(Regex, Box<[usize]>)>,
}

impl Group {
    fn build(globs: &[(usize, String)]) -> Result<Group, String> {
        let mut group = Group::default();
        group.add(globs)?;
        Ok(group)
    }

    /// Compiles `globs` as one regex or, when that is over the size limits, as two halves.
    fn add(&mut self, globs: &[(usize, String)]) -> Result<(), String> {
        if globs.is_empty() {
            return Ok(());
        }
        let built = Regex::builder()
            .configure(regex_config())
            .syntax(syntax_config())
            .build_many(&globs.iter().map(|(_, re)| re.as_str()).collect::<Vec<_>>());
        match built {
            Ok(re) => {
                self.parts
                    .push((re, globs.iter().map(|&(id, _)| id).collect()));
                Ok(())
            }
            Err(e) => match globs.split_at_checked(globs.len() / 2) {
                Some((a, b)) if !a.is_empty() => {
                    self.add(a)?;
                    self.add(b)
                }
                _ => Err(format!("a glob is too large to compile: {e}")),
            },
        }
    }

    fn matches_into(&self, text: &str, out: &mut Vec<usize>, set: &mut Option<PatternSet>) {
        for (re, ids) in &self.parts {
            let set = match set {
                Some(s) if s.capacity() >= re.pattern_len() => s,
                _ => set.insert(PatternSet::new(re.pattern_len())),
            };
            set.clear();
            re.which_overlapping_matches(&Input::new(text).anchored(Anchored::Yes), set);
            out.extend(set.iter().filter_map(|p| ids.get(p.as_usize()).copied()));
        }
    }
}

/// Globs by the literal first segment of the paths they can match.
#[derive(Debug, Clone)]
pub(crate) struct GlobIndex {
    by_segment: HashMap<Box<[u8]>, Group>,
    rest: Group,
    len: usize,
}

/// The first segment of a path: the bytes after the leading `/` up to the next `/`.
fn first_segment(path: &[u8]) -> &[u8] {
    let rest = path.strip_prefix(b"/").unwrap_or(path);
    let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    rest.get(..end).unwrap_or(rest)
}

/// The first segment a path glob requires, when it is literal text.
// INVARIANT: only for case-sensitive path globs. A literal character matches only itself, and
// only a `Globstar` or an alternative can put a `/` where a literal segment ends: a glob that
// starts with `/`, literal characters, and then `/` or its end requires exactly that first
// segment.
fn literal_first_segment(glob: &Glob) -> Option<Box<[u8]>> {
    let [Token::Literal('/'), rest @ ..] = glob.tokens() else {
        return None;
    };
    let mut seg = String::new();
    for t in rest {
        match t {
            Token::Literal('/') => break,
            Token::Literal(c) => seg.push(*c),
            _ => return None,
        }
    }
    Some(seg.into_bytes().into_boxed_slice())
}

impl GlobIndex {
    /// Indexes `globs`, each with its id, as regexes (`path` and `case_insensitive` say how
    /// they read values). Path globs are grouped by their first segment unless case is
    /// ignored, when a segment can match under Unicode case folding.
    pub(crate) fn build<'g>(
        globs: impl IntoIterator<Item = (usize, &'g Glob)>,
        path: bool,
        case_insensitive: bool,
    ) -> Result<GlobIndex, String> {
        let mut groups: HashMap<Box<[u8]>, Vec<(usize, String)>> = HashMap::new();
        let mut rest = Vec::new();
        let mut len = 0;
        for (id, g) in globs {
            len += 1;
            let re = g.regex(path, case_insensitive);
            match literal_first_segment(g).filter(|_| path && !case_insensitive) {
                Some(seg) => groups.entry(seg).or_default().push((id, re)),
                None => rest.push((id, re)),
            }
        }
        let mut by_segment = HashMap::with_capacity(groups.len());
        for (seg, globs) in groups {
            by_segment.insert(seg, Group::build(&globs)?);
        }
        Ok(GlobIndex {
            by_segment,
            rest: Group::build(&rest)?,
            len,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the ids of the globs `text` matches to `out` (not sorted). `set` is scratch.
    pub(crate) fn matches_into(
        &self,
        text: &str,
        out: &mut Vec<usize>,
        set: &mut Option<PatternSet>,
    ) {
        self.rest.matches_into(text, out, set);
        if !self.by_segment.is_empty() {
            if let Some(group) = self.by_segment.get(first_segment(text.as_bytes())) {
                group.matches_into(text, out, set);
            }
        }
    }

    #[cfg(test)]
    fn matches(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(text, &mut out, &mut None);
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::globs::syntax::Dialect;

    fn path_globs(patterns: &[&str]) -> Vec<Glob> {
        patterns
            .iter()
            .map(|p| Glob::parse(p, Dialect::Path).unwrap())
            .collect()
    }

    #[test]
    fn grouping_finds_what_a_flat_set_finds() {
        let patterns = [
            "/admin/**",
            "/admin",
            "/api/*",
            "/api/v{1,2}/*",
            "/**",
            "**/secret",
            "/",
            "/a*/x",
            "/x/y",
            "/\\*/z",
            "/adm{in,}",
            "/caf\u{e9}/?",
        ];
        let globs = path_globs(&patterns);
        let grouped = GlobIndex::build(globs.iter().enumerate(), true, false).unwrap();
        let flat = GlobIndex::build(globs.iter().enumerate(), true, true).unwrap();
        assert!(!grouped.by_segment.is_empty() && flat.by_segment.is_empty());
        for path in [
            "/",
            "/admin",
            "/admin/x",
            "/api/v1/x",
            "/api/x",
            "/ab/x",
            "/x/y",
            "/q/secret",
            "/*/z",
            "/adm",
            "/caf\u{e9}/\u{1f600}",
        ] {
            // Case-insensitive matching finds more, never less, on these lowercase paths.
            let all = flat.matches(path);
            let wanted: Vec<usize> = all
                .into_iter()
                .filter(|&i| {
                    Regex::new(&globs[i].regex(true, false))
                        .unwrap()
                        .is_match(path)
                })
                .collect();
            assert_eq!(grouped.matches(path), wanted, "{path}");
        }
    }

    #[test]
    fn a_group_too_large_for_one_regex_is_split() {
        // Each glob is small, but all of them together are over the size limit.
        let patterns: Vec<String> = (0..3000)
            .map(|i| format!("/p{i}[!a]/\u{e9}?/*/x{i}/**"))
            .collect();
        let globs: Vec<Glob> = patterns
            .iter()
            .map(|p| Glob::parse(p, Dialect::Path).unwrap())
            .collect();
        let index = GlobIndex::build(globs.iter().enumerate(), true, true).unwrap();
        assert!(index.rest.parts.len() > 1, "{}", index.rest.parts.len());
        assert_eq!(index.matches("/P2999B/\u{c9}\u{1f600}/y/X2999/z"), [2999]);
    }
}
