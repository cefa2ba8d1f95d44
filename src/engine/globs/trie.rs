//! Path globs as a tree of segments, walked once per path.
//!
//! A path glob like `/api/v*/users/**` is a list of segment patterns: a literal (`api`), one
//! whole segment (`*`), a segment glob (`v*`), and a trailing `**` that takes any remainder.
//! All globs share one tree; a path walks it segment by segment, keeping the few nodes its
//! prefix has reached. The cost is the path's segments times the nodes reached, each a map
//! lookup and a handful of segment globs: it does not grow with the number of globs.

use crate::engine::bytemap::ByteMap;
use crate::engine::ids::NodeId;

use super::syntax::{Glob, Token};
use super::wildcard::Wildcard;

/// The most segment globs one node holds; a glob that would add another is left to the regex
/// fallback,
/// so that no node costs more than this many tests.
const MAX_WILD_CHILDREN: usize = 8;

/// One segment of a path glob.
#[derive(Debug, Clone)]
enum Segment {
    Literal(Box<[u8]>),
    /// `*`: any one segment.
    Any,
    /// A segment glob such as `*.pdf`.
    Wild(Wildcard),
    /// A trailing `**`: one or more segments, whatever they hold.
    Rest,
}

/// The segments of a path glob, or `None` when the glob needs the regex fallback.
// INVARIANT: the tree is only used for case-sensitive path globs. Its segments are literal text
// and single `*`s, which match UTF-8 byte for byte exactly as character by character (see
// `wildcard`), and the path is split at `/` bytes, which never occur inside a multi-byte
// character.
fn segments(glob: &Glob) -> Option<Vec<Segment>> {
    let body = match glob.tokens() {
        [Token::Literal('/'), body @ ..] => body,
        _ => return None,
    };
    let parts: Vec<&[Token]> = body.split(|t| *t == Token::Literal('/')).collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| match *part {
            [Token::Globstar] if i == last => Some(Segment::Rest),
            [Token::Star] => Some(Segment::Any),
            part => {
                let w = Wildcard::from_tokens(part)?;
                Some(match w.literal() {
                    Some(lit) => Segment::Literal(lit.into()),
                    None => Segment::Wild(w),
                })
            }
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
struct Node {
    literal: ByteMap<NodeId>,
    any: Option<NodeId>,
    wild: Vec<(Wildcard, NodeId)>,
    /// Globs that match a path ending here.
    ends: Vec<usize>,
    /// Globs that match a path with at least one more segment (a trailing `**`).
    below: Vec<usize>,
}

/// A node while the tree is built: literal children still in a growable list.
#[derive(Debug, Default)]
struct Draft {
    literal: Vec<(Box<[u8]>, NodeId)>,
    any: Option<NodeId>,
    wild: Vec<(Wildcard, NodeId)>,
    ends: Vec<usize>,
    below: Vec<usize>,
}

/// Builds a [`PathTrie`].
#[derive(Debug, Default)]
pub(crate) struct TrieBuilder {
    nodes: Vec<Draft>,
}

impl TrieBuilder {
    pub(crate) fn new() -> TrieBuilder {
        TrieBuilder {
            nodes: vec![Draft::default()],
        }
    }

    /// Adds glob `id`; false when it has a shape the tree does not take.
    pub(crate) fn add(&mut self, id: usize, glob: &Glob) -> bool {
        let Some(segs) = segments(glob) else {
            return false;
        };
        // Check first that the glob fits, so that a refused glob leaves no nodes behind.
        let mut at = Some(NodeId::ROOT);
        for seg in &segs {
            let Some(node) = at.and_then(|n| self.nodes.get(n.as_usize())) else {
                break;
            };
            at = match seg {
                Segment::Literal(lit) => {
                    node.literal.iter().find(|(k, _)| k == lit).map(|&(_, c)| c)
                }
                Segment::Any => node.any,
                Segment::Wild(_) if node.wild.len() >= MAX_WILD_CHILDREN => return false,
                Segment::Wild(_) | Segment::Rest => None,
            };
        }
        // Every node this glob adds must get an id, or it adds none.
        if NodeId::new(self.nodes.len() + segs.len()).is_none() {
            return false;
        }
        let mut at = NodeId::ROOT;
        for seg in segs {
            let Some(fresh) = NodeId::new(self.nodes.len()) else {
                return false;
            };
            let Some(node) = self.nodes.get_mut(at.as_usize()) else {
                return false;
            };
            let next = match seg {
                Segment::Rest => {
                    node.below.push(id);
                    return true;
                }
                Segment::Literal(lit) => match node.literal.iter().find(|(k, _)| *k == lit) {
                    Some(&(_, c)) => c,
                    None => {
                        node.literal.push((lit, fresh));
                        fresh
                    }
                },
                Segment::Any => *node.any.get_or_insert(fresh),
                // Equal segment globs are rare enough not to be merged.
                Segment::Wild(w) => {
                    node.wild.push((w, fresh));
                    fresh
                }
            };
            if next == fresh {
                self.nodes.push(Draft::default());
            }
            at = next;
        }
        match self.nodes.get_mut(at.as_usize()) {
            Some(node) => {
                node.ends.push(id);
                true
            }
            None => false,
        }
    }

    pub(crate) fn build(self) -> Option<PathTrie> {
        if self.nodes.len() == 1 && self.nodes.iter().all(|n| n.below.is_empty()) {
            return None;
        }
        let nodes = self
            .nodes
            .into_iter()
            .map(|d| Node {
                literal: ByteMap::new(d.literal),
                any: d.any,
                wild: d.wild,
                ends: d.ends,
                below: d.below,
            })
            .collect();
        Some(PathTrie { nodes })
    }
}

/// Path globs as a tree of segments.
#[derive(Debug, Clone)]
pub(crate) struct PathTrie {
    // INVARIANT: node 0 is the root; children always have higher indexes than their parent.
    nodes: Vec<Node>,
}

/// Reusable buffers for one walk.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    current: Vec<NodeId>,
    next: Vec<NodeId>,
}

impl PathTrie {
    /// Appends to `out` the ids of the globs `path` matches (each at most once).
    pub(crate) fn matches_into(&self, path: &[u8], out: &mut Vec<usize>, walk: &mut Walk) {
        // Every glob of the tree starts with `/`.
        let Some(body) = path.strip_prefix(b"/") else {
            return;
        };
        let Walk { current, next } = walk;
        current.clear();
        current.push(NodeId::ROOT);
        for seg in body.split(|&b| b == b'/') {
            next.clear();
            for &n in current.iter() {
                let Some(node) = self.nodes.get(n.as_usize()) else {
                    continue;
                };
                out.extend_from_slice(&node.below);
                if let Some(&child) = node.literal.get(seg) {
                    next.push(child);
                }
                if let Some(child) = node.any {
                    next.push(child);
                }
                for (w, child) in &node.wild {
                    if w.is_match(seg) {
                        next.push(*child);
                    }
                }
            }
            std::mem::swap(current, next);
            if current.is_empty() {
                return;
            }
        }
        for &n in current.iter() {
            if let Some(node) = self.nodes.get(n.as_usize()) {
                out.extend_from_slice(&node.ends);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::globs::syntax::Dialect;

    fn glob(text: &str) -> Glob {
        Glob::parse(text, Dialect::Path).unwrap()
    }

    fn trie(globs: &[&str]) -> PathTrie {
        let mut b = TrieBuilder::new();
        for (i, g) in globs.iter().enumerate() {
            assert!(b.add(i, &glob(g)), "{g} should fit the tree");
        }
        b.build().unwrap()
    }

    fn matching(t: &PathTrie, path: &str) -> Vec<usize> {
        let mut out = Vec::new();
        t.matches_into(path.as_bytes(), &mut out, &mut Walk::default());
        out.sort_unstable();
        out
    }

    #[test]
    fn walks_segments() {
        let globs = [
            "/admin/**",
            "/admin",
            "/api/*",
            "/api/v*/users",
            "/",
            "/**",
            "/files/*.pdf",
            "/api/v1/users",
        ];
        let t = trie(&globs);
        let cases: &[(&str, &[usize])] = &[
            ("/", &[4, 5]),
            ("/admin", &[1, 5]),
            ("/admin/", &[0, 5]),
            ("/admin/x/y", &[0, 5]),
            ("/administrator", &[5]),
            ("/api/x", &[2, 5]),
            ("/api/v1/users", &[3, 5, 7]),
            ("/api/v2/users", &[3, 5]),
            ("/api/x/users", &[5]),
            ("/files/a.pdf", &[5, 6]),
            ("/files/a/b.pdf", &[5]),
            ("*", &[]),
        ];
        for &(path, want) in cases {
            assert_eq!(matching(&t, path), want, "{path}");
        }
    }

    #[test]
    fn other_shapes_are_refused() {
        let mut b = TrieBuilder::new();
        for g in [
            "**/x",
            "/a/**/b",
            "/v{1,2}",
            "/[ab]",
            "/a?",
            "*",
            "/x/\u{e9}?",
        ] {
            assert!(!b.add(0, &glob(g)), "{g}");
        }
        assert!(b.build().is_none());
    }

    #[test]
    fn a_crowded_node_sends_globs_elsewhere() {
        let mut b = TrieBuilder::new();
        for i in 0..MAX_WILD_CHILDREN {
            assert!(b.add(i, &glob(&format!("/x/*.e{i}"))));
        }
        assert!(!b.add(99, &glob("/x/*.e99")));
        assert!(b.add(100, &glob("/x/y")));
    }
}
