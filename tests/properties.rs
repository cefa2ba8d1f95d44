//! The fuzz targets' properties as proptests, so that CI checks them on stable.

use portcullis::{Cause, Format, Policy, Request};
use proptest::prelude::*;

const ADMIN: &str = "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"admin\"\neffect = \"forbid\"\nwhen = { path = \"/admin/**\" }\n";

/// Targets built from pieces that matter to path handling, and arbitrary bytes.
fn target() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"/".to_vec()),
        Just(b"admin".to_vec()),
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        Just(b"%2e".to_vec()),
        Just(b"%2E".to_vec()),
        Just(b"%2f".to_vec()),
        Just(b"%5c".to_vec()),
        Just(b"%25".to_vec()),
        Just(b"%61".to_vec()),
        Just(b"%".to_vec()),
        Just(b";".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"?".to_vec()),
        Just(b"#".to_vec()),
        Just(b"%00".to_vec()),
        Just(b"%c0%ae".to_vec()),
        Just(b"\xc3\xa9".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn accepted_paths_are_clean_and_decisions_repeat(t in target()) {
        let engine = Policy::from_toml(ADMIN).unwrap().compile().unwrap();
        let request = Request::get(t.clone()).peer("192.0.2.1".parse().unwrap());
        let v = engine.decide(&request);
        prop_assert_eq!(v, engine.decide(&request));
        let e = engine.explain(&request);
        prop_assert_eq!(e.decision, v.decision());
        if !matches!(v.cause(), Cause::Refused(_)) {
            let path = e.request.path.clone().unwrap();
            if path != "*" {
                prop_assert!(path.starts_with('/'));
                let segments: Vec<&str> = path[1..].split('/').collect();
                for (i, s) in segments.iter().enumerate() {
                    prop_assert!(*s != "." && *s != "..", "{:?}", path);
                    prop_assert!(!s.is_empty() || i + 1 == segments.len(), "{:?}", path);
                }
                prop_assert!(!path.contains(['\\', ';', '#', '?']), "{:?}", path);
                prop_assert!(!path.chars().any(char::is_control), "{:?}", path);
                if path == "/admin" || path.starts_with("/admin/") {
                    prop_assert!(!v.is_allowed(), "{:?} escaped the admin rule", path);
                }
            }
        }
    }

    #[test]
    fn mangled_policies_never_panic(cut in 0usize..400, insert in "[ -~\\n]{0,12}", format in 0u8..3) {
        let base = match format {
            0 => ADMIN.to_owned(),
            1 => r#"{"policy":{"default":"allow"},"lists":{"x":["10.0.0.0/8"]},"rules":[{"name":"a","effect":"forbid","when":{"ip":["@x"],"path":"/a/**"}}]}"#.to_owned(),
            _ => "policy:\n  default: forbid\nrules:\n  - name: a\n    effect: allow\n    when:\n      path: [/api/**]\n".to_owned(),
        };
        let at = base.char_indices().map(|(i, _)| i).nth(cut % base.len()).unwrap_or(0);
        let text = format!("{}{insert}{}", &base[..at], &base[at..]);
        let format = [Format::Toml, Format::Json, Format::Yaml][format as usize];
        if let Err(e) = Policy::parse("p", text, format).and_then(|p| p.compile()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
