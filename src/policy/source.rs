//! Policy source text and the map from a place in the document to a line and column.
//!
//! Serde models carry no positions, so the loader keeps the text and, for TOML, a tree of spans
//! parsed alongside the model. Validation names a place as a path (`rules[3].when.ip[1]`) and the
//! locator turns it into a [`Location`]. JSON and YAML have no span tree here: for them the locator
//! searches the text for the rule and the offending value, which finds the right line in practice.

use std::ops::Range;

use crate::error::{Location, PolicyError};

/// One step of a path into the document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The policy text and what is needed to point into it.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) name: String,
    text: String,
    spans: Option<Node>,
}

/// A value's span and, for arrays and tables, its children's.
#[derive(Debug, Clone)]
struct Node {
    span: Range<usize>,
    kind: NodeKind,
}

// Only the TOML loader builds span trees.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "toml"), allow(dead_code))]
enum NodeKind {
    Leaf,
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl Source {
    pub(crate) fn new(name: impl Into<String>, text: String) -> Self {
        Source {
            name: name.into(),
            text,
            spans: None,
        }
    }

    #[cfg(feature = "toml")]
    pub(crate) fn with_toml_spans(mut self) -> Self {
        if let Ok(table) = toml::de::DeTable::parse(&self.text) {
            let span = table.span();
            self.spans = Some(Node {
                span,
                kind: NodeKind::Table(toml_table(table.get_ref())),
            });
        }
        self
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The location of a byte offset.
    pub(crate) fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Location {
            file: self.name.clone(),
            line,
            column,
        }
    }

    /// The text of a 1-based line.
    pub(crate) fn line_text(&self, line: usize) -> Option<String> {
        self.text
            .lines()
            .nth(line.checked_sub(1)?)
            .map(|s| s.trim_end_matches('\r').to_owned())
    }

    /// An error placed at a line and column given by a parser.
    #[cfg_attr(not(any(feature = "json", feature = "yaml")), allow(dead_code))]
    pub(crate) fn error_at_line(
        &self,
        err: PolicyError,
        line: usize,
        column: usize,
    ) -> PolicyError {
        let loc = Location {
            file: self.name.clone(),
            line,
            column,
        };
        let snippet = self.line_text(line);
        err.at(Some(loc), snippet)
    }

    /// An error placed at a byte offset.
    pub(crate) fn error_at_offset(&self, err: PolicyError, offset: usize) -> PolicyError {
        let loc = self.location(offset);
        let snippet = self.line_text(loc.line);
        err.at(Some(loc), snippet)
    }

    /// Places `err` at `path`; in text without spans, at the first occurrence of the `needles`
    /// in order (each searched after the previous one).
    pub(crate) fn place(
        &self,
        err: PolicyError,
        path: &[Seg<'_>],
        needles: &[&str],
    ) -> PolicyError {
        match self.find(path, needles) {
            Some(offset) => self.error_at_offset(err, offset),
            None => err.in_file(self.name.clone()),
        }
    }

    /// The location of `path`, as [`Source::place`] finds it.
    pub(crate) fn locate(&self, path: &[Seg<'_>], needles: &[&str]) -> Option<Location> {
        self.find(path, needles).map(|o| self.location(o))
    }

    fn find(&self, path: &[Seg<'_>], needles: &[&str]) -> Option<usize> {
        match &self.spans {
            Some(root) => Some(walk(root, path).span.start),
            None => self.search(needles),
        }
    }

    fn search(&self, needles: &[&str]) -> Option<usize> {
        let mut from = 0;
        let mut found = None;
        for needle in needles.iter().filter(|n| !n.is_empty()) {
            match self.text.get(from..).and_then(|t| t.find(needle)) {
                Some(i) => {
                    found = Some(from + i);
                    from += i + needle.len();
                }
                None => break,
            }
        }
        found
    }
}

/// The deepest node along `path` (the parent when a step is missing).
fn walk<'n>(mut node: &'n Node, path: &[Seg<'_>]) -> &'n Node {
    for seg in path {
        let next = match (&node.kind, seg) {
            (NodeKind::Table(entries), Seg::Key(k)) => {
                entries.iter().find(|(name, _)| name == k).map(|(_, n)| n)
            }
            (NodeKind::Array(items), Seg::Index(i)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

#[cfg(feature = "toml")]
fn toml_table(table: &toml::de::DeTable<'_>) -> Vec<(String, Node)> {
    table
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), toml_node(v)))
        .collect()
}

#[cfg(feature = "toml")]
fn toml_node(value: &toml::Spanned<toml::de::DeValue<'_>>) -> Node {
    use toml::de::DeValue;
    let kind = match value.get_ref() {
        DeValue::Array(items) => NodeKind::Array(items.iter().map(toml_node).collect()),
        DeValue::Table(t) => NodeKind::Table(toml_table(t)),
        _ => NodeKind::Leaf,
    };
    Node {
        span: value.span(),
        kind,
    }
}
