//! Tests of request reading: header-name lengths, underscores and twins.

use super::*;
use crate::engine::header_names::{has_underscore, lengths_of};

#[test]
fn underscores_are_found_anywhere_in_any_length() {
    for len in 0..40 {
        let plain = vec![b'a'; len];
        assert!(!has_underscore(&plain), "{len}");
        for at in 0..len {
            let mut name = plain.clone();
            name[at] = b'_';
            assert!(has_underscore(&name), "{len} {at}");
        }
    }
    // Every other byte value, next to the one that matters.
    for b in 0..=255u8 {
        assert_eq!(has_underscore(&[b, b'a', 0xff]), b == b'_', "{b}");
    }
}

#[test]
fn a_request_keeps_its_name_lengths_and_ruling_out_never_hides_a_header() {
    let names = [
        "x-http-method",
        "X_Http_Method",
        "x-original-url",
        "host",
        "a",
        "x_y",
    ];
    let asked = ["x-http-method", "x-original-url", "x-y", "b"];
    // Every subset of `names` as a request; every subset of `asked` as a set ruled out.
    for set in 0..1u32 << names.len() {
        let mut request = Request::get("/");
        for (i, name) in names.iter().enumerate() {
            if set & (1 << i) != 0 {
                request = request.header(*name, "v");
            }
        }
        let view = request.view();
        let fresh = name_lengths(request.headers().iter().map(|(n, _)| n.as_bytes()));
        assert_eq!(view.name_lengths, fresh, "{request:?}");
        for ask in 0..1u32 << asked.len() {
            let group: Vec<&str> = (0..asked.len())
                .filter(|i| ask & (1 << i) != 0)
                .filter_map(|i| asked.get(i).copied())
                .collect();
            let carried = group.iter().any(|n| view.header_values(n).next().is_some());
            if carried {
                assert!(
                    view.may_carry_any(lengths_of(&group)),
                    "{group:?} {request:?}"
                );
            }
        }
    }
}

#[test]
fn twins_differ_only_in_separator_and_case() {
    let cases = [
        ("x-api-key", "X_Api_Key", true),
        ("x-api-key", "x-api_key", true),
        ("x_custom", "X-CUSTOM", true),
        ("x-api-key", "x-api-keys", false),
        ("x-api-key", "x.api.key", false),
        ("user-agent", "user agent", false),
    ];
    for (a, b, twins) in cases {
        assert_eq!(twin_eq(a.as_bytes(), b.as_bytes()), twins, "{a} {b}");
    }
}
