//! The `Forwarded` header (RFC 7239), read strictly.
//!
//! Frameworks read this header loosely: axum-extra's `Host` and actix-web's `ConnectionInfo`
//! split on `;` and `=` and trim white space, so `host = evil.example` is a host claim to them.
//! A reader that is stricter than the backend would miss claims the backend acts on; one that
//! is looser would see claims the backend ignores. The engine therefore accepts only the
//! RFC's grammar, where every reader agrees, and calls anything else malformed: the caller
//! refuses a malformed header (or, for the client address, makes the client unknown).
//!
//! ```text
//! Forwarded         = 1#forwarded-element          ; elements separated by `,` and OWS
//! forwarded-element = forwarded-pair *( ";" forwarded-pair )
//! forwarded-pair    = token "=" value              ; no white space around `=` or `;`
//! value             = token / quoted-string        ; no `\` escapes
//! ```
//!
//! Stricter than the RFC: empty elements and empty pairs are malformed, a parameter may appear
//! only once per element, and a quoted string may not hold a `\` escape or a `,`.

use crate::engine::path::is_token;
use crate::engine::request::trim_ows;

/// The parameters of one element that the engine reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    /// `for=`, unquoted.
    pub(crate) for_: Option<&'a [u8]>,
    /// `host=`, unquoted.
    pub(crate) host: Option<&'a [u8]>,
}

/// A `Forwarded` line that does not follow the grammar above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Calls `visit` with each element of one `Forwarded` line, left to right; stops at the first
/// malformed element.
pub(crate) fn elements<'a>(
    line: &'a [u8],
    mut visit: impl FnMut(Element<'a>),
) -> Result<(), Malformed> {
    // INVARIANT: quoted strings hold no `,` (refused in `value`), so every `,` separates
    // elements.
    for element in line.split(|&b| b == b',') {
        visit(element_of(trim_ows(element))?);
    }
    Ok(())
}

fn element_of(element: &[u8]) -> Result<Element<'_>, Malformed> {
    if element.is_empty() {
        return Err(Malformed);
    }
    let mut out = Element::default();
    let mut seen: [&[u8]; 4] = [&[]; 4];
    for (count, pair) in element.split(|&b| b == b';').enumerate() {
        let eq = memchr::memchr(b'=', pair).ok_or(Malformed)?;
        let (key, value) = (
            pair.get(..eq).unwrap_or(&[]),
            pair.get(eq + 1..).unwrap_or(&[]),
        );
        if !is_token(key) {
            return Err(Malformed);
        }
        // RFC 7239 §4: a parameter must not occur more than once per element. Readers differ
        // on which of two they take (the first, the last), so a repeat is malformed.
        if seen.iter().take(count).any(|k| k.eq_ignore_ascii_case(key)) {
            return Err(Malformed);
        }
        // RFC 7239 defines four parameters: a fifth pair repeats one or is unknown.
        *seen.get_mut(count).ok_or(Malformed)? = key;
        let value = value_of(value)?;
        if key.eq_ignore_ascii_case(b"for") {
            out.for_ = Some(value);
        } else if key.eq_ignore_ascii_case(b"host") {
            out.host = Some(value);
        }
    }
    Ok(out)
}

/// A token, or the inside of a quoted string without escapes, commas or white space.
///
/// The values read here (addresses, host names) never hold white space; one that does would
/// be trimmed by the engine's host reading but kept by frameworks that take the quoted string
/// as it is (axum-extra reads `host="admin.example\t"` with its tab), so it is refused.
fn value_of(value: &[u8]) -> Result<&[u8], Malformed> {
    match value {
        [b'"', inner @ .., b'"'] if value.len() >= 2 => {
            let plain = |b: &u8| matches!(b, b'!'..=b'~') && !matches!(b, b'"' | b'\\' | b',');
            if inner.iter().all(plain) {
                Ok(inner)
            } else {
                Err(Malformed)
            }
        }
        v if is_token(v) => Ok(v),
        _ => Err(Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `for=` and `host=` of one element, as text.
    type Read = (Option<String>, Option<String>);

    fn read(line: &str) -> Result<Vec<Read>, Malformed> {
        let mut out = Vec::new();
        let text = |v: Option<&[u8]>| v.map(|v| String::from_utf8_lossy(v).into_owned());
        elements(line.as_bytes(), |e| out.push((text(e.for_), text(e.host))))?;
        Ok(out)
    }

    #[test]
    fn the_grammar_is_read_and_nothing_else() {
        let s = |v: &str| Some(v.to_owned());
        let ok: &[(&str, &[Read])] = &[
            (
                "for=192.0.2.60;proto=http;by=203.0.113.43",
                &[(s("192.0.2.60"), None)],
            ),
            (
                "for=\"[2001:db8:cafe::17]:4711\"",
                &[(s("[2001:db8:cafe::17]:4711"), None)],
            ),
            (
                "For=192.0.2.43, for=198.51.100.17",
                &[(s("192.0.2.43"), None), (s("198.51.100.17"), None)],
            ),
            (
                "host=example.com;for=_hidden",
                &[(s("_hidden"), s("example.com"))],
            ),
            (
                "HOST=\"example.com:8080\"",
                &[(None, s("example.com:8080"))],
            ),
            ("proto=https", &[(None, None)]),
            (
                "  for=unknown  ,\tfor=1.2.3.4",
                &[(s("unknown"), None), (s("1.2.3.4"), None)],
            ),
        ];
        for (line, want) in ok {
            assert_eq!(read(line).as_deref(), Ok(*want), "{line}");
        }
        let malformed = [
            // White space around `=` or after `;`: frameworks read these, the RFC does not.
            "host =evil.example",
            "host= evil.example",
            "for=1.2.3.4; host = evil.example",
            "for=1.2.3.4; host=evil.example",
            "for=1.2.3.4 ;host=evil.example",
            // A repeated parameter: readers differ on which one counts.
            "for=10.0.0.5;for=198.51.100.9",
            "host=a.example;HOST=b.example",
            // Unquoted values that are not tokens (an IPv6 address, a port).
            "for=2001:db8::1",
            "for=192.0.2.1:8080",
            "for=[2001:db8::1]",
            // Empty elements, pairs, keys and values.
            "",
            "for=1.2.3.4,",
            ",for=1.2.3.4",
            "for=1.2.3.4;;proto=http",
            "for=1.2.3.4;",
            "=1.2.3.4",
            "for=",
            "for",
            // Quoted strings: escapes, commas, unbalanced quotes, control characters.
            "for=\"1.2.3.4\\\"\"",
            "host=\"a.example,b.example\"",
            "for=\"1.2.3.4",
            "for=1.2.3.4\"",
            "host=\"a\u{1}b\"",
            // White space inside a quoted value: trimmed by one reader, kept by another.
            "host=\"admin.example.com\t\"",
            "host=\" admin.example.com\"",
            "for=\"1.2.3.4 \"",
        ];
        for line in malformed {
            assert_eq!(read(line), Err(Malformed), "{line:?}");
        }
    }
}
