//! Globs made only of literal text and single `*`s, matched without a regex.
//!
//! Most written globs are of this shape (`*bot*`, `*.example.com`, `files-*`, a path segment
//! like `*.pdf`): they are pieces of literal text that must appear in order, the first at the
//! start and the last at the end. Anything richer (`?`, classes, alternations, escapes, `**`) is
//! left to globset.

use memchr::memmem::{self, Finder};

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

/// Characters that make a glob more than literal text and `*`.
fn is_special(b: u8) -> bool {
    matches!(b, b'?' | b'[' | b']' | b'{' | b'}' | b'\\')
}

impl Wildcard {
    /// Parses `text`; `None` if it holds anything but literal text and single `*`s.
    pub(crate) fn parse(text: &[u8]) -> Option<Wildcard> {
        if text.iter().copied().any(is_special) || memmem::find(text, b"**").is_some() {
            return None;
        }
        Some(Wildcard::from_pieces(
            text.split(|&b| b == b'*').map(Box::from).collect(),
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

    /// The same glob matching ASCII letters in either case, for ASCII values; `None` if the glob
    /// is not ASCII, whose case folding only the Unicode-aware fallback gets right.
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
            let w = Wildcard::parse(glob.as_bytes()).unwrap();
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
    fn richer_globs_are_left_to_globset() {
        for glob in ["a?", "[ab]", "{a,b}", "a\\*", "**", "a/**/b"] {
            assert!(Wildcard::parse(glob.as_bytes()).is_none(), "{glob}");
        }
        assert!(Wildcard::parse(b"caf\xc3\xa9*")
            .unwrap()
            .ascii_case_insensitive()
            .is_none());
        let w = Wildcard::parse(b"*BOT*")
            .unwrap()
            .ascii_case_insensitive()
            .unwrap();
        assert!(w.is_match(b"googlebot"));
        assert!(w.is_match(b"GoogleBoT/2"));
        assert!(!w.is_match(b"googlebo"));
        let w = Wildcard::parse(b"Mozilla*Gecko")
            .unwrap()
            .ascii_case_insensitive()
            .unwrap();
        assert!(w.is_match(b"mozilla/5.0 GECKO"));
        assert!(!w.is_match(b"mozilla/5.0 GECKOS"));
    }
}
