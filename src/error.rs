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
    /// Further errors found in the same pass (every bad line of a list file, up to a cap).
    related: Vec<PolicyError>,
    /// How many more were found than `related` holds.
    omitted: usize,
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
            related: Vec::new(),
            omitted: 0,
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

    /// Attaches further errors of the same pass, and how many more were found but not kept.
    pub(crate) fn with_related(mut self, related: Vec<PolicyError>, omitted: usize) -> Self {
        self.0.related = related;
        self.0.omitted = omitted;
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

    /// Further errors found in the same pass, each with its own place: a list file with
    /// several bad lines is reported whole (up to [`MAX_REPORTED_LINES`](crate::MAX_REPORTED_LINES)
    /// lines), not one line per run. `Display` includes them.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = std::env::temp_dir().join(format!("portcullis-doc-related-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("drop.txt"), "192.0.2.0/24\nnot-an-ip\n198.51.100.7/16\n")?;
    /// let err = portcullis::Policy::from_toml("[policy]\ndefault = \"allow\"\n[lists]\ndrop = { file = \"drop.txt\" }\n")?
    ///     .with_base_dir(&dir)
    ///     .compile()
    ///     .unwrap_err();
    /// assert_eq!(err.location().map(|l| l.line), Some(2));
    /// assert_eq!(err.related().len(), 1);
    /// assert_eq!(err.related()[0].location().map(|l| l.line), Some(3));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn related(&self) -> &[PolicyError] {
        &self.0.related
    }

    /// How many further errors were found beyond those [`PolicyError::related`] holds.
    pub fn omitted(&self) -> usize {
        self.0.omitted
    }

    /// This error alone, without its related errors: `file:line:column: rule "name": message`.
    pub fn headline(&self) -> impl fmt::Display + '_ {
        Headline(self)
    }
}

/// One error's own line.
struct Headline<'a>(&'a PolicyError);

impl fmt::Display for Headline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0 .0;
        match (&e.location, &e.file) {
            (Some(loc), _) => write!(f, "{loc}: ")?,
            (None, Some(file)) => write!(f, "{file}: ")?,
            (None, None) => {}
        }
        if let Some(rule) = &e.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        f.write_str(&e.message)
    }
}

impl fmt::Display for PolicyError {
    /// One line: this error, then each related error after `; `, then how many were omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.headline())?;
        for r in &self.0.related {
            write!(f, "; {}", r.headline())?;
        }
        if self.0.omitted > 0 {
            write!(f, "; and {} more", self.0.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// Something a policy compiled despite: the invalid lines of a list file read with
/// `on_invalid = "skip"`, which were left out. [`Engine::warnings`](crate::Engine::warnings)
/// holds them, so that `check`, reloads and applications can show them; compiling also logs
/// each one (a `tracing` warning with target `portcullis`).
///
/// `Display` is one line:
/// `list `drop` file `drop.txt`: skipped 2 invalid lines: drop.txt:3:1: `300.1.1.1` is not a valid address; drop.txt:9:1: ...`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("portcullis-doc-warning-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("feed.txt"), "192.0.2.0/24\nnot-an-ip\n")?;
/// let engine = portcullis::Policy::from_toml(
///     "[policy]\ndefault = \"allow\"\n[lists]\nfeed = { file = \"feed.txt\", on_invalid = \"skip\" }\n",
/// )?
/// .with_base_dir(&dir)
/// .compile()?;
/// let warning = &engine.warnings()[0];
/// assert_eq!((warning.list.as_str(), warning.skipped), ("feed", 1));
/// assert_eq!(warning.lines[0].location.line, 2);
/// assert_eq!(engine.lists().collect::<Vec<_>>(), [("feed", 1)]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PolicyWarning {
    /// The list whose file had invalid lines.
    pub list: String,
    /// The file, as named in errors.
    pub file: String,
    /// How many lines were skipped.
    pub skipped: usize,
    /// The first few skipped lines (at most [`MAX_WARNED_LINES`](crate::MAX_WARNED_LINES)).
    pub lines: Vec<SkippedLine>,
}

/// One line of a list file left out because it is not an address, CIDR or range.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SkippedLine {
    /// Where the entry is.
    pub location: Location,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for SkippedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

impl fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.skipped == 1 { "" } else { "s" };
        write!(
            f,
            "list `{}` file `{}`: skipped {} invalid line{s}",
            self.list, self.file, self.skipped
        )?;
        for (i, line) in self.lines.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{line}")?;
        }
        let more = self.skipped.saturating_sub(self.lines.len());
        if more > 0 {
            write!(f, "; and {more} more")?;
        }
        Ok(())
    }
}
