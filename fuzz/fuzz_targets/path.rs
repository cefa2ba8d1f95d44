//! Path handling: whatever the engine accepts holds no dot segment, no empty segment and no
//! encoded separator, and deciding twice gives the same answer.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::{Cause, Engine, Policy, Request};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        Policy::from_toml("[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"admin\"\neffect = \"forbid\"\nwhen = { path = \"/admin/**\" }\n")
            .and_then(|p| p.compile())
            .expect("compiles")
    })
}

fuzz_target!(|target: &[u8]| {
    let request = Request::get(target.to_vec()).peer([192, 0, 2, 1].into());
    let e = engine();
    let v = e.decide(&request);
    assert_eq!(v, e.decide(&request));
    if matches!(v.cause(), Cause::Refused(_)) {
        return;
    }
    let explanation = e.explain(&request);
    let path = explanation.request.path.expect("an accepted request has a path");
    if path == "*" {
        return;
    }
    assert!(path.starts_with('/'), "{path:?}");
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(*s != "." && *s != "..", "dot segment in {path:?}");
        assert!(!s.is_empty() || i + 1 == segments.len(), "empty segment in {path:?}");
    }
    assert!(!path.contains('\\') && !path.contains(';') && !path.contains('#') && !path.contains('?'), "{path:?}");
    assert!(!path.chars().any(char::is_control), "{path:?}");
    // The decoded path is what `/admin/**` is matched on: a decoded `/admin` is refused.
    if path == "/admin" || path.starts_with("/admin/") {
        assert!(!v.is_allowed(), "{path:?} escaped the admin rule");
    }
});
