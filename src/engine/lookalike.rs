//! Characters that other components read as something else: Unicode that normalises or
//! case-maps to ASCII, white space some backends trim, and the Windows forms of a name.
//!
//! The engine reads a path one way; a backend that reads one of these characters another way
//! would act on a request the policy never saw, so each is refused where it could matter.

use crate::engine::verdict::Refusal;

/// Whether Unicode compatibility normalisation (NFKC) turns `c` into a bare ASCII character:
/// fullwidth `／`, `．` and `ｐ`, ligatures such as `ﬁ`, `™`. Python's `unicodedata.normalize`,
/// Java's `Normalizer` and Windows' best-fit mapping read `/ｐrivate` as `/private`, so such
/// a character is ambiguous and refused in paths. An ASCII letter that keeps a combining mark
/// (`é` is `e` and U+0301) is not bare: it composes back.
pub(crate) fn normalizes_to_ascii(c: char) -> bool {
    use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
    if c.is_ascii() {
        return false;
    }
    let mut pending_ascii = false;
    let mut bare = false;
    // The callback form decomposes without allocating.
    decompose_compatible(c, |d| {
        if pending_ascii && canonical_combining_class(d) == 0 {
            bare = true;
        }
        pending_ascii = d.is_ascii();
    });
    bare || pending_ascii
}

/// Forms that Win32 path normalisation reads as another name, refused under case-insensitive
/// paths (the setting for Windows file servers and IIS): a segment ending in `.` (dropped, so
/// `/private./x` is `/private/x`), an NTFS stream (`web.config::$DATA` is `web.config`) and an
/// 8.3 short name (`ADMINI~1` may be `administrator`).
pub(crate) fn check_windows_forms(path: &[u8]) -> Result<(), Refusal> {
    let windows = path
        .split(|&b| b == b'/')
        .any(|seg| seg.last() == Some(&b'.') || is_windows_alias_segment(seg));
    if windows {
        Err(Refusal::WindowsAlias)
    } else {
        Ok(())
    }
}

/// A segment holding an NTFS stream suffix (`:$`) or an 8.3 short-name tilde (`~` then a digit).
pub(crate) fn is_windows_alias_segment(seg: &[u8]) -> bool {
    seg.windows(2)
        .any(|w| matches!(w, [b':', b'$']) || matches!(w, [b'~', d] if d.is_ascii_digit()))
}

/// Whether `c` is not ASCII but its upper- or lowercase holds an ASCII letter: dotless `ı`
/// (uppercase `I`), `İ` (lowercase `i̇`), long `ſ` (uppercase `S`), the Kelvin sign `K`
/// (lowercase `k`) and a few more. Java's `equalsIgnoreCase`, .NET's invariant culture and
/// others compare through these mappings, so `/admın` is `/admin` to them; Unicode simple case
/// folding, which the engine's case-insensitive globs use, keeps `ı` apart. Under
/// case-insensitive paths such a character is ambiguous, and refused.
pub(crate) fn folds_to_ascii(c: char) -> bool {
    !c.is_ascii()
        && (c.to_uppercase().any(|u| u.is_ascii()) || c.to_lowercase().any(|l| l.is_ascii()))
}

/// Characters some backends trim from the edges of a segment as white space: Unicode white
/// space (no-break spaces, the ideographic space, ...) and the invisible format characters
/// that trimming functions and normalisers often drop (zero-width spaces and joiners, the
/// word joiner, the byte-order mark, the Mongolian vowel separator).
pub(crate) fn trims_as_space(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{180e}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_characters_that_become_ascii() {
        for c in [
            '\u{ff41}', '\u{ff0f}', '\u{ff0e}', '\u{fb01}', '\u{2122}', '\u{212a}', '\u{2460}',
        ] {
            assert!(normalizes_to_ascii(c), "{c:?}");
        }
        // Composed letters compose back; other scripts have no ASCII form.
        for c in [
            'a',
            '\u{e9}',
            '\u{c5}',
            '\u{431}',
            '\u{3042}',
            '\u{4e2d}',
            '\u{1f600}',
            '\u{131}',
            // A space and a combining tilde: the mark stays, so no bare ASCII (a fuzz finding).
            '\u{2dc}',
        ] {
            assert!(!normalizes_to_ascii(c), "{c:?}");
        }
    }
}
