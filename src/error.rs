//! Errors in policies: what is wrong, in which file, on which line, in which rule.

use std::fmt;

/// Where in a policy source something is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    /// The file name as given when the policy was loaded (`<policy>` for text).
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, counted in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The broad class of a [`PolicyError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A policy or list file could not be read.
    Io,
    /// The text is not a well-formed document of the expected shape.
    Syntax,
    /// The document is well formed but says something invalid.
    Invalid,
    /// The document exceeds a documented size limit.
    Limit,
}

/// An error found while loading or compiling a policy.
///
/// Its `Display` is one line a user can act on:
/// `policy.toml:12:8: rule "admin": CIDR `10.1.2.3/8` has host bits set (did you mean `10.0.0.0/8`?)`.
///
/// ```
/// use portcullis::Policy;
///
/// let err = Policy::from_toml("[policy]\ndefault = \"maybe\"\n").unwrap_err();
/// assert_eq!(err.location().map(|l| l.line), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    message: String,
    location: Option<Location>,
    file: Option<String>,
    rule: Option<String>,
    snippet: Option<String>,
}

impl PolicyError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PolicyError(Box::new(Inner {
            kind,
            message: message.into(),
            location: None,
            file: None,
            rule: None,
            snippet: None,
        }))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn at(mut self, location: Option<Location>, snippet: Option<String>) -> Self {
        if let Some(loc) = &location {
            self.0.file = Some(loc.file.clone());
        }
        self.0.location = location;
        self.0.snippet = snippet;
        self
    }

    pub(crate) fn in_file(mut self, file: impl Into<String>) -> Self {
        self.0.file = Some(file.into());
        self
    }

    pub(crate) fn in_rule(mut self, rule: impl Into<String>) -> Self {
        self.0.rule = Some(rule.into());
        self
    }

    /// The broad class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where the error is, when it can be placed.
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// The file the error is in, when known (also when no line can be given).
    pub fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }

    /// The name of the rule the error is in, if it is in one.
    pub fn rule(&self) -> Option<&str> {
        self.0.rule.as_deref()
    }

    /// The source line the error points at, for rendering with a caret.
    pub fn snippet(&self) -> Option<&str> {
        self.0.snippet.as_deref()
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.location, &self.0.file) {
            (Some(loc), _) => write!(f, "{loc}: ")?,
            (None, Some(file)) => write!(f, "{file}: ")?,
            (None, None) => {}
        }
        if let Some(rule) = &self.0.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for PolicyError {}
