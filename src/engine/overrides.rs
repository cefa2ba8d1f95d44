//! Request parts that ask a backend to read the request as another one: method overrides
//! and URL overrides. The one home of these lists; request reading and explanations use them.

/// Headers that ask a framework to treat a request as another method.
pub(crate) const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Headers some backends route on instead of the target (Symfony CVE-2018-14773, IIS URL
/// Rewrite).
pub(crate) const URL_OVERRIDE_HEADERS: [&str; 2] = ["x-original-url", "x-rewrite-url"];

/// Whether a query parameter name, already percent-decoded, is a `_method` override as some
/// backend reads it.
///
/// Laravel, Rails, Express' `method-override` and others read `_method`. PHP turns `.`, ` `
/// and `[` in parameter names into `_` and drops leading spaces (so `.method` and `+_method`
/// are `_method` to it), ends names at a NUL byte (`_method%00x`), and reads `_method[]` as an
/// array; frameworks differ on case. All of
/// these count, so that no spelling a backend honours escapes the engine.
pub(crate) fn is_method_override_key(decoded: &[u8]) -> bool {
    // PHP measures names with `strlen`: `_method%00junk` is `_method` to it.
    let decoded = match memchr::memchr(0, decoded) {
        Some(nul) => decoded.get(..nul).unwrap_or(decoded),
        None => decoded,
    };
    let start = decoded
        .iter()
        .position(|&b| b != b' ')
        .unwrap_or(decoded.len());
    let key = decoded.get(start..).unwrap_or(&[]);
    let Some(name) = key.get(..7) else {
        return false;
    };
    let php = |b: u8| {
        if matches!(b, b'.' | b' ' | b'[') {
            b'_'
        } else {
            b.to_ascii_lowercase()
        }
    };
    let is_name = name.iter().zip(b"_method").all(|(&a, &b)| php(a) == b);
    is_name && matches!(key.get(7), None | Some(b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_method_counts() {
        let yes = [
            "_method",
            "_METHOD",
            "_Method",
            ".method",
            "[method",
            "  _method",
            " .method",
            "_method[]",
            "_method[x]",
            "_method\0",
            "_method\0junk",
            ".method\0",
        ];
        for key in yes {
            assert!(is_method_override_key(key.as_bytes()), "{key:?}");
        }
        let no = [
            " method", "method", "_methods", "_method_", "x_method", "", "_metho", "__method",
        ];
        for key in no {
            assert!(!is_method_override_key(key.as_bytes()), "{key:?}");
        }
    }
}
