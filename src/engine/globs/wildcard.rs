//! Globs made only of literal text and single `*`s, matched without a regex.
//!
//! Most written globs are of this shape (`*bot*`, `*.example.com`, `files-*`, a path segment
//! like `*.pdf`): they are pieces of literal text that must appear in order, the first at the
//! start and the last at the end. Anything richer (`?`, classes, alternations, a path's `**`)
//! is left to the regex fallback.
//!
//! INVARIANT: matching bytes here is the same as matching characters. A piece is valid UTF-8
//! and so is the value: a piece can only be found starting and ending on character boundaries,
//! and `*` takes whatever lies between, so no character is ever split. Case is folded only for
//! ASCII pieces (see [`Wildcard::ascii_case_insensitive`] and [`Wildcard::fold_exact`] for
//! when that equals Unicode simple case folding).

use memchr::memmem::Finder;

use super::syntax::Token;

/// A glob whose only wildcard is `*`: `pieces` are the literal runs around the stars.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    // INVARIANT: at least one piece; `pieces.len() - 1` stars, none of them doubled.
    pieces: Box<[Box<[u8]>]>,
    /// A prepared searcher for each piece between the first and the last.
    middle: Box<[Finder<'static>]>,
    /// Whether ASCII letters match in either case (the pieces are then lowercase).
    fold: bool,
}

impl Wildcard {
    /// The glob of `tokens`; `None` if they hold anything but literal characters and single
    /// `*`s (the parser never makes two `*` in a row).
    pub(crate) fn from_tokens(tokens: &[Token]) -> Option<Wildcard> {
        let mut pieces = vec![String::new()];
        let mut after_star = false;
        for t in tokens {
            match t {
                Token::Literal(c) => pieces.last_mut()?.push(*c),
                Token::Star if !after_star => pieces.push(String::new()),
                _ => return None,
            }
            after_star = *t == Token::Star;
        }
        Some(Wildcard::from_pieces(
            pieces
                .into_iter()
                .map(|p| p.into_bytes().into_boxed_slice())
                .collect(),
            false,
        ))
    }

    fn from_pieces(pieces: Box<[Box<[u8]>]>, fold: bool) -> Wildcard {
        let inner = pieces.len().saturating_sub(1);
        let middle = pieces
            .iter()
            .take(inner)
            .skip(1)
            .map(|p| Finder::new(p).into_owned())
            .collect();
        Wildcard {
            pieces,
            middle,
            fold,
        }
    }

    /// The same glob matching ASCII letters in either case, for the values [`Self::fold_exact`]
    /// allows; `None` if the glob is not ASCII, whose case folding only the Unicode-aware
    /// fallback gets right.
    pub(crate) fn ascii_case_insensitive(&self) -> Option<Wildcard> {
        if self.pieces.iter().any(|p| !p.is_ascii()) {
            return None;
        }
        Some(Wildcard::from_pieces(
            self.pieces
                .iter()
                .map(|p| p.to_ascii_lowercase().into())
                .collect(),
            true,
        ))
    }

    /// Whether ASCII case folding of this (ASCII) glob equals Unicode simple case folding on
    /// every value, ASCII or not.
    // INVARIANT: under simple case folding the only characters outside ASCII that fold
    // together with an ASCII character are U+212A KELVIN SIGN (with `k`) and U+017F LONG S
    // (with `s`); a test checks this over every `char`. A glob without `k` or `s` therefore
    // matches a character outside ASCII only through `*`, which takes it whole. With `k` or
    // `s`, a value that is not ASCII must go to the Unicode fallback. On ASCII values ASCII
    // folding is always exact.
    pub(crate) fn fold_exact(&self) -> bool {
        !self
            .pieces
            .iter()
            .any(|p| p.iter().any(|b| matches!(b, b'k' | b'K' | b's' | b'S')))
    }

    /// The literal text, when the glob has no star.
    pub(crate) fn literal(&self) -> Option<&[u8]> {
        match &*self.pieces {
            [only] => Some(only),
            _ => None,
        }
    }

    /// Whether `value` matches, byte for byte (ASCII letters in either case if the glob was
    /// made case-insensitive, when `value` must be ASCII). On UTF-8 text this is the same as
    /// matching character by character: a piece of valid UTF-8 can only start and end on
    /// character boundaries.
    pub(crate) fn is_match(&self, value: &[u8]) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if self.fold {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        let Some((first, rest)) = self.pieces.split_first() else {
            return false;
        };
        let Some(last) = rest.last() else {
            return eq(value, first);
        };
        let Some(mut rest) = value
            .get(..first.len())
            .filter(|head| eq(head, first))
            .and_then(|_| value.get(first.len()..))
        else {
            return false;
        };
        // The leftmost place for each middle piece leaves the most room for the next ones.
        for finder in &self.middle {
            let needle = finder.needle();
            let found = if self.fold {
                find_ascii_case_insensitive(rest, needle)
            } else {
                finder.find(rest)
            };
            match found {
                Some(at) => rest = rest.get(at + needle.len()..).unwrap_or(&[]),
                None => return false,
            }
        }
        rest.len() >= last.len()
            && rest
                .get(rest.len() - last.len()..)
                .is_some_and(|tail| eq(tail, last))
    }
}

/// The first place `needle` (lowercase) occurs in `hay`, ASCII letters in either case.
fn find_ascii_case_insensitive(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&head, tail)) = needle.split_first() else {
        return Some(0);
    };
    let mut from = 0;
    while let Some(i) = hay
        .get(from..)
        .and_then(|h| memchr::memchr2(head, head.to_ascii_uppercase(), h))
    {
        let at = from + i;
        if hay
            .get(at + 1..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(tail))
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::globs::syntax::{Dialect, Glob};

    fn parse(text: &str) -> Option<Wildcard> {
        Wildcard::from_tokens(Glob::parse(text, Dialect::Text).unwrap().tokens())
    }

    #[test]
    fn matches_like_a_glob() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything", true),
            ("*bot*", "Googlebot/2.1", true),
            ("*bot*", "bot", true),
            ("*bot*", "bo", false),
            ("a*", "a", true),
            ("a*", "ba", false),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("a*b*c", "abbbc", true),
            ("*.example.com", "api.example.com", true),
            ("*.example.com", "example.com", false),
            ("ab*ba", "aba", false),
            ("ab*ba", "abba", true),
            ("x*é", "xyzé", true),
        ];
        for &(glob, value, want) in cases {
            let w = parse(glob).unwrap();
            assert_eq!(w.is_match(value.as_bytes()), want, "{glob} ~ {value}");
        }
    }

    #[test]
    fn case_insensitive_search_finds_the_first_place() {
        let needles: [&[u8]; 4] = [b"bot", b"b", b"gecko/2", b"zz"];
        for n in 0..300 {
            let mut hay: Vec<u8> = (0..n).map(|i| b"xBoTgEcKo/2 "[i % 12]).collect();
            hay.extend_from_slice(b"zZ");
            for needle in needles {
                let want = hay
                    .windows(needle.len())
                    .position(|w| w.eq_ignore_ascii_case(needle));
                assert_eq!(find_ascii_case_insensitive(&hay, needle), want, "{n}");
            }
        }
        assert_eq!(find_ascii_case_insensitive(b"ab", b"abc"), None);
        assert_eq!(find_ascii_case_insensitive(b"", b""), Some(0));
    }

    #[test]
    fn richer_globs_are_left_to_the_fallback() {
        for glob in ["a?", "[ab]", "{a,b}"] {
            assert!(parse(glob).is_none(), "{glob}");
        }
        let path = Glob::parse("/a/**", Dialect::Path).unwrap();
        assert!(Wildcard::from_tokens(path.tokens()).is_none());
        // Escaped characters are literal text.
        assert_eq!(parse("a\\*").unwrap().literal(), Some(&b"a*"[..]));
        assert!(parse("caf\u{e9}*")
            .unwrap()
            .ascii_case_insensitive()
            .is_none());
        let w = parse("*BOT*").unwrap().ascii_case_insensitive().unwrap();
        assert!(w.is_match(b"googlebot"));
        assert!(w.is_match(b"GoogleBoT/2"));
        assert!(!w.is_match(b"googlebo"));
        let w = parse("Mozilla*Gecko")
            .unwrap()
            .ascii_case_insensitive()
            .unwrap();
        assert!(w.is_match(b"mozilla/5.0 GECKO"));
        assert!(!w.is_match(b"mozilla/5.0 GECKOS"));
    }

    #[test]
    fn ascii_folding_is_exact_without_k_and_s() {
        let cases = [
            ("*bot*", true),
            ("*curl*", true),
            ("*sqlmap*", false),
            ("*Kit*", false),
            ("x", true),
        ];
        for (glob, exact) in cases {
            let w = parse(glob).unwrap().ascii_case_insensitive().unwrap();
            assert_eq!(w.fold_exact(), exact, "{glob}");
        }
    }

    /// The characters outside ASCII that Unicode simple case folding puts together with an
    /// ASCII character, as the regex engine's `(?i)` sees them: exactly KELVIN SIGN and LONG S.
    #[test]
    fn only_kelvin_and_long_s_fold_into_ascii() {
        let re = regex_automata::meta::Regex::new("(?i)^[\\x{0}-\\x{7F}]$").unwrap();
        let mut buf = [0u8; 4];
        let found: Vec<char> = (0x80..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| re.is_match(c.encode_utf8(&mut buf).as_bytes()))
            .collect();
        assert_eq!(found, ['\u{17f}', '\u{212a}']);
    }
}
