//! The glob language of policies: parsed into tokens, and translated into Unicode regexes.
//!
//! Globs match per Unicode scalar value: `?` and a class take one `char` however many bytes
//! it has, and case-insensitive globs fold case as Unicode's simple case folding does (the
//! regex engine's `(?i)`). The strategies of [`super`] that compare bytes are only used where
//! that is provably the same (see their `INVARIANT` comments).
//!
//! | written | path globs | other text |
//! | --- | --- | --- |
//! | `*` | any characters but `/` | any characters |
//! | `**` | as a whole segment (`/a/**`, `/**/b`, `**/b`): any segments | the same as `*` |
//! | `?` | one character but `/` | one character |
//! | `[ab]`, `[a-z]` | one character of the class but `/` | one character of the class |
//! | `[!ab]`, `[^ab]` | one character outside the class, never `/` | one character outside |
//! | `{a,b,}` | one of the alternatives (empty ones too) | the same |
//! | `\c` | the character `c` itself | the same |
//!
//! Inside a class every character is literal (`\` too); `]` first in a class and `-` first or
//! last are literal. Host globs read `[` and `]` as literal characters (IPv6 hosts are
//! bracketed), and have no classes.

use std::fmt::Write;

/// How a glob's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// A path: `/` separates segments, and `**` as a whole segment crosses them.
    Path,
    /// Any other text: `*` and `**` take any characters.
    Text,
    /// A host: text, with `[` and `]` literal.
    Host,
}

/// One element of a parsed glob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Token {
    Literal(char),
    /// `?`: one character (not `/` in a path).
    One,
    /// `*`: any run of characters (not crossing `/` in a path).
    Star,
    /// `**` as a whole path segment: any segments. Only in path globs.
    Globstar,
    /// `[...]`: one character in (or, negated, outside) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `{a,b}`: one of the alternatives.
    Alternates(Vec<Vec<Token>>),
}

/// The deepest nesting of `{...}` accepted: deeper globs are refused rather than translated
/// into a regex that the nesting limit of the regex parser would refuse later, without a place.
pub(crate) const MAX_ALTERNATE_DEPTH: usize = 16;

/// A parsed glob, ready for any matching strategy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Parses `text` as `dialect` says; the error is the reason, for the caller to wrap.
    pub(crate) fn parse(text: &str, dialect: Dialect) -> Result<Glob, String> {
        Ok(Glob {
            tokens: Parser::new(text, dialect).parse()?,
        })
    }

    pub(crate) fn from_tokens(tokens: Vec<Token>) -> Glob {
        Glob { tokens }
    }

    pub(crate) fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The anchored regex for this glob: Unicode mode, `(?i)` (simple case folding) when case
    /// is ignored.
    pub(crate) fn regex(&self, path: bool, case_insensitive: bool) -> String {
        let mut re = String::from(if case_insensitive { "(?si)" } else { "(?s)" });
        re.push_str("^(?:");
        push_seq(&mut re, &self.tokens, path);
        re.push_str(")$");
        re
    }
}

/// Reads a glob's text into tokens.
struct Parser {
    chars: Vec<char>,
    at: usize,
    dialect: Dialect,
    /// The open `{` groups: the alternatives finished so far and the sequence around them.
    open: Vec<(Vec<Vec<Token>>, Vec<Token>)>,
    current: Vec<Token>,
}

impl Parser {
    fn new(text: &str, dialect: Dialect) -> Parser {
        Parser {
            chars: text.chars().collect(),
            at: 0,
            dialect,
            open: Vec::new(),
            current: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn parse(mut self) -> Result<Vec<Token>, String> {
        while let Some(c) = self.bump() {
            match c {
                '?' => self.current.push(Token::One),
                '*' => self.star()?,
                '[' if self.dialect != Dialect::Host => self.class()?,
                '{' => {
                    if self.open.len() >= MAX_ALTERNATE_DEPTH {
                        return Err(format!(
                            "alternatives are nested more than {MAX_ALTERNATE_DEPTH} deep (write fewer levels of `{{...}}`)"
                        ));
                    }
                    let outer = std::mem::take(&mut self.current);
                    self.open.push((Vec::new(), outer));
                }
                ',' => match self.open.last_mut() {
                    Some((branches, _)) => branches.push(std::mem::take(&mut self.current)),
                    None => self.current.push(Token::Literal(',')),
                },
                '}' => {
                    let Some((mut branches, outer)) = self.open.pop() else {
                        return Err(format!(
                            "unopened alternate group; missing `{{` (maybe escape `}}` as {}?)",
                            self.escaped('}')
                        ));
                    };
                    branches.push(std::mem::replace(&mut self.current, outer));
                    self.current.push(Token::Alternates(branches));
                }
                '\\' => match self.bump() {
                    Some(c) => self.current.push(Token::Literal(c)),
                    None => return Err(
                        "dangling `\\` at the end escapes nothing (write `\\\\` for a backslash)"
                            .to_owned(),
                    ),
                },
                c => self.current.push(Token::Literal(c)),
            }
        }
        if !self.open.is_empty() {
            return Err(format!(
                "unclosed alternate group; missing `}}` (maybe escape `{{` as {}?)",
                self.escaped('{')
            ));
        }
        Ok(self.current)
    }

    /// How to write `c` literally in this dialect, for hints.
    fn escaped(&self, c: char) -> String {
        match self.dialect {
            Dialect::Host => format!("`\\{c}`"),
            Dialect::Path | Dialect::Text => format!("`[{c}]`"),
        }
    }

    /// After a `*`.
    fn star(&mut self) -> Result<(), String> {
        let mut stars = 1;
        while self.peek() == Some('*') {
            self.bump();
            stars += 1;
        }
        if self.dialect != Dialect::Path {
            // In text `*` already takes anything: `**` is the same, and so are repeated stars.
            if self.current.last() != Some(&Token::Star) {
                self.current.push(Token::Star);
            }
            return Ok(());
        }
        if stars == 1 {
            self.current.push(Token::Star);
            return Ok(());
        }
        let starts_segment = match self.current.last() {
            Some(Token::Literal('/')) => true,
            Some(_) => false,
            None => self.open.is_empty(),
        };
        let ends_segment = match self.peek() {
            Some('/') => true,
            None => self.open.is_empty(),
            Some(_) => false,
        };
        if stars > 2 || !starts_segment || !ends_segment {
            return Err(
                "`**` must be a whole path segment, as in `/a/**`, `/**/b` or `**/b` (within a segment, `*` already takes any characters)"
                    .to_owned(),
            );
        }
        self.current.push(Token::Globstar);
        Ok(())
    }

    /// After a `[`.
    fn class(&mut self) -> Result<(), String> {
        let negated = matches!(self.peek(), Some('!' | '^'));
        if negated {
            self.bump();
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.bump() else {
                return Err(
                    "unclosed character class; missing `]` (maybe escape `[` as `[[]`?)".to_owned(),
                );
            };
            if c == ']' && !first {
                break;
            }
            if c == '[' && self.peek() == Some(':') {
                return Err("POSIX classes such as `[:alpha:]` are not supported; write ranges such as `[a-zA-Z]` (or put `:` first, `[:[]`, to match `[` and `:`)".to_owned());
            }
            first = false;
            let range_end = match (self.peek(), self.chars.get(self.at + 1)) {
                (Some('-'), Some(&hi)) if hi != ']' => Some(hi),
                _ => None,
            };
            match range_end {
                Some(hi) => {
                    self.at += 2;
                    if hi < c {
                        return Err(format!(
                            "invalid range `{c}-{hi}`: it runs backwards (write `{hi}-{c}`)"
                        ));
                    }
                    ranges.push((c, hi));
                }
                None => ranges.push((c, c)),
            }
        }
        self.current.push(Token::Class { negated, ranges });
        Ok(())
    }
}

/// Appends the regex of a token sequence.
fn push_seq(re: &mut String, tokens: &[Token], path: bool) {
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        i += 1;
        match t {
            Token::Literal(c) => push_char(re, *c),
            Token::One => re.push_str(if path { "[^/]" } else { "." }),
            Token::Star => re.push_str(if path { "[^/]*" } else { ".*" }),
            // INVARIANT: the parser only makes a `Globstar` at the start of a path glob or
            // after a `/`, and followed by a `/` or the end: `/**/b` is `/(?:.*/)?b`, which
            // takes no segment or any; `/a/**` is `/a/.*`; `**/b` is `(?:.*/)?b`.
            Token::Globstar => {
                if tokens.get(i) == Some(&Token::Literal('/')) {
                    i += 1;
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            Token::Class { negated, ranges } => push_class(re, *negated, ranges, path),
            Token::Alternates(branches) => {
                re.push_str("(?:");
                for (k, b) in branches.iter().enumerate() {
                    if k > 0 {
                        re.push('|');
                    }
                    push_seq(re, b, path);
                }
                re.push(')');
            }
        }
    }
}

/// Appends `c` as a regex literal: letters and digits as they are, anything else as a hex
/// escape, which the regex syntax reads as that character in and out of classes.
fn push_char(re: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        re.push(c);
    } else {
        let _ = write!(re, "\\x{{{:X}}}", u32::from(c));
    }
}

/// Appends a class. In a path a class never takes `/`: it is cut out of the ranges, or added
/// to the negated ones.
fn push_class(re: &mut String, negated: bool, ranges: &[(char, char)], path: bool) {
    let mut kept = Vec::with_capacity(ranges.len() + 1);
    for &(lo, hi) in ranges {
        if path && !negated && lo <= '/' && '/' <= hi {
            if lo < '/' {
                kept.push((lo, '.'));
            }
            if hi > '/' {
                kept.push(('0', hi));
            }
        } else {
            kept.push((lo, hi));
        }
    }
    if path && negated {
        kept.push(('/', '/'));
    }
    if kept.is_empty() {
        // A class that can take nothing (only `/`, in a path): a class of no characters.
        re.push_str("[^\\x{0}-\\x{10FFFF}]");
        return;
    }
    re.push('[');
    if negated {
        re.push('^');
    }
    for (lo, hi) in kept {
        push_char(re, lo);
        if hi != lo {
            re.push('-');
            push_char(re, hi);
        }
    }
    re.push(']');
}

#[cfg(test)]
#[path = "syntax_tests.rs"]
mod tests;
