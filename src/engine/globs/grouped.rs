//! Globs for globset, path globs indexed by their first segment.
//!
//! A glob set's cost grows with the number of globs that need a regex. Most path globs start
//! with a literal segment (`/api/...`, `/admin/**`): those are grouped by it, and a path only
//! meets the group of its own first segment and the globs whose first segment is not literal.
//! This is the fallback for the globs the faster strategies of [`super`] do not take.

use std::collections::HashMap;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Some globs, compiled together, with their ids in the whole index.
#[derive(Debug, Clone)]
struct Group {
    set: GlobSet,
    ids: Box<[usize]>,
}

impl Group {
    fn build(globs: Vec<(usize, Glob)>) -> Result<Group, String> {
        let mut b = GlobSetBuilder::new();
        let mut ids = Vec::with_capacity(globs.len());
        for (id, g) in globs {
            b.add(g);
            ids.push(id);
        }
        let set = b
            .build()
            .map_err(|e| format!("cannot build the glob set: {e}"))?;
        Ok(Group {
            set,
            ids: ids.into_boxed_slice(),
        })
    }

    fn matches_into(&self, text: &str, out: &mut Vec<usize>, local: &mut Vec<usize>) {
        if self.set.is_empty() {
            return;
        }
        self.set.matches_into(text, local);
        out.extend(local.iter().filter_map(|&i| self.ids.get(i).copied()));
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

/// The first segment a path glob requires, when it is a literal.
fn literal_first_segment(pattern: &str) -> Option<&[u8]> {
    if !pattern.starts_with('/') {
        return None;
    }
    let seg = first_segment(pattern.as_bytes());
    // INVARIANT: outside `*`, `?`, classes, alternations and escapes a glob character matches
    // only itself, and `/` is never crossed by anything but `**`: a literal first segment of
    // the glob must equal the path's.
    (!seg.iter().any(|b| b"*?[]{}\\".contains(b))).then_some(seg)
}

impl GlobIndex {
    /// Indexes `globs`, each with its id. `by_segment` groups path globs; it must be false for
    /// case-insensitive globs, whose segments can match under Unicode case folding.
    pub(crate) fn build<'g>(
        globs: impl IntoIterator<Item = (usize, &'g Glob)>,
        by_segment: bool,
    ) -> Result<GlobIndex, String> {
        let mut groups: HashMap<Box<[u8]>, Vec<(usize, Glob)>> = HashMap::new();
        let mut rest = Vec::new();
        let mut len = 0;
        for (id, g) in globs {
            len += 1;
            match literal_first_segment(g.glob()).filter(|_| by_segment) {
                Some(seg) => groups.entry(seg.into()).or_default().push((id, g.clone())),
                None => rest.push((id, g.clone())),
            }
        }
        let mut by_segment = HashMap::with_capacity(groups.len());
        for (seg, globs) in groups {
            by_segment.insert(seg, Group::build(globs)?);
        }
        Ok(GlobIndex {
            by_segment,
            rest: Group::build(rest)?,
            len,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the ids of the globs `text` matches to `out` (not sorted).
    pub(crate) fn matches_into(&self, text: &str, out: &mut Vec<usize>, local: &mut Vec<usize>) {
        self.rest.matches_into(text, out, local);
        if !self.by_segment.is_empty() {
            if let Some(group) = self.by_segment.get(first_segment(text.as_bytes())) {
                group.matches_into(text, out, local);
            }
        }
    }

    #[cfg(test)]
    fn matches(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(text, &mut out, &mut Vec::new());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_globs(patterns: &[&str]) -> Vec<Glob> {
        patterns
            .iter()
            .map(|p| {
                globset::GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .unwrap()
            })
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
        ];
        let globs = path_globs(&patterns);
        let grouped = GlobIndex::build(globs.iter().enumerate(), true).unwrap();
        let flat = GlobIndex::build(globs.iter().enumerate(), false).unwrap();
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
        ] {
            let mut a = grouped.matches(path);
            let mut b = flat.matches(path);
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{path}");
        }
    }
}
