//! The properties the fuzz targets check, shared with `tests/fuzz_replay.rs`, which replays
//! every committed seed and regression input on stable in CI.
//!
//! The including crate must also declare `mod reference;` (the plain reference evaluator in
//! `tests/reference`).

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use portcullis::{Cause, Engine, Format, Policy, Request};

use crate::reference::{
    evaluate, Answer, Conds, Effect, HeaderMatch, RefPolicy, RefRequest, RefRule,
};

/// A request whose every byte the fuzzer chooses; the `Debug` output is a reproducer.
#[derive(Debug, Arbitrary)]
pub struct FuzzRequest {
    pub method: u8,
    pub target: String,
    pub headers: Vec<(u8, String)>,
    pub peer: [u8; 4],
}

const METHODS: [&str; 5] = ["GET", "POST", "DELETE", "HEAD", "get"];
const NAMES: [&str; 9] = [
    "host",
    "x-env",
    "user-agent",
    "x-api-key",
    "authorization",
    "x-http-method-override",
    "x-other",
    "x_env",
    "X_HTTP_Method_Override",
];

fn decide_policies() -> &'static [(RefPolicy, Engine)] {
    static P: OnceLock<Vec<(RefPolicy, Engine)>> = OnceLock::new();
    P.get_or_init(|| {
        let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        let mut clients = std::collections::BTreeMap::new();
        clients.insert(
            "alpha".to_owned(),
            ("ka".to_owned(), vec!["reader".to_owned()]),
        );
        let mut lists = std::collections::BTreeMap::new();
        lists.insert(
            "inner".to_owned(),
            vec!["10.0.0.0/8".to_owned(), "192.0.2.0/24".to_owned()],
        );
        let rules = vec![
            RefRule {
                name: "a".into(),
                effect: Effect::Forbid,
                report: false,
                when: Conds {
                    ip: s(&["@inner"]),
                    path: s(&["/admin/**"]),
                    ..Conds::default()
                },
                unless: None,
            },
            RefRule {
                name: "b".into(),
                effect: Effect::Allow,
                report: false,
                when: Conds {
                    path: s(&["/api/*", "/", "/x/?"]),
                    method: s(&["GET"]),
                    ..Conds::default()
                },
                unless: Some(Conds {
                    header: Some(("x-env".into(), vec![HeaderMatch::Exact("dev".into())])),
                    ..Conds::default()
                }),
            },
            RefRule {
                name: "c".into(),
                effect: Effect::Forbid,
                report: false,
                when: Conds {
                    user_agent: s(&["*bot*", "*b\u{e4}d*"]),
                    ..Conds::default()
                },
                unless: None,
            },
            RefRule {
                name: "d".into(),
                effect: Effect::Allow,
                report: false,
                when: Conds {
                    role: s(&["reader"]),
                    ..Conds::default()
                },
                unless: None,
            },
            RefRule {
                name: "e".into(),
                effect: Effect::Forbid,
                report: false,
                when: Conds {
                    method: s(&["DELETE"]),
                    ..Conds::default()
                },
                unless: None,
            },
        ];
        [false, true]
            .into_iter()
            .map(|forbid_overrides| {
                let p = RefPolicy {
                    default: Effect::Forbid,
                    forbid_overrides,
                    case_insensitive_paths: false,
                    lists: lists.clone(),
                    clients: clients.clone(),
                    tokens: false,
                    rules: rules.clone(),
                };
                let engine = Policy::from_toml(&p.to_toml())
                    .and_then(|x| x.compile())
                    .expect("fuzz policy compiles");
                (p, engine)
            })
            .collect()
    })
}

/// Request → decide: never panics, is deterministic, agrees with its explanation, and agrees
/// with the plain reference evaluator where the reference reads the request (origin-form
/// targets, plain hosts).
pub fn check_decide(input: &FuzzRequest) {
    let method = METHODS[input.method as usize % METHODS.len()];
    let peer = std::net::IpAddr::from(input.peer);
    let headers: Vec<(String, String)> = input
        .headers
        .iter()
        .take(8)
        .map(|(n, v)| (NAMES[*n as usize % NAMES.len()].to_owned(), v.clone()))
        .collect();
    let mut request = Request::new(method, input.target.clone()).peer(peer);
    for (n, v) in &headers {
        request = request.header(n.clone(), v.clone());
    }
    for (p, engine) in decide_policies() {
        let v = engine.decide(&request);
        assert_eq!(v, engine.decide(&request), "decide is deterministic");
        let e = engine.explain(&request);
        assert_eq!(e.decision, v.decision(), "the explanation is the decision");
        let comparable = input.target.starts_with('/')
            && headers.iter().all(|(n, v)| {
                n != "host" || v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            });
        if comparable {
            let r = RefRequest {
                method: method.to_owned(),
                target: input.target.clone(),
                headers: headers.clone(),
                peer: Some(peer),
                token: None,
            };
            let want = evaluate(p, &r);
            let got = match v.cause() {
                Cause::Refused(_) => Answer::Refused,
                Cause::Rule(id) => Answer::Decided {
                    allow: v.is_allowed(),
                    rule: engine.rule(id).map(|r| r.name().to_owned()),
                },
                Cause::Default => Answer::Decided {
                    allow: v.is_allowed(),
                    rule: None,
                },
            };
            assert_eq!(got, want, "{r:?}\n{e}");
        }
    }
}

fn admin_engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        Policy::from_toml(
            "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"admin\"\neffect = \"forbid\"\nwhen = { path = \"/admin/**\" }\n",
        )
        .and_then(|p| p.compile())
        .expect("compiles")
    })
}

/// Raw target → whatever the engine accepts holds no dot, empty or encoded separator segment
/// and no control character, and `/admin` cannot be reached in disguise.
pub fn check_path(target: &[u8]) {
    let request = Request::get(target.to_vec()).peer([192, 0, 2, 1].into());
    let e = admin_engine();
    let v = e.decide(&request);
    assert_eq!(v, e.decide(&request));
    if matches!(v.cause(), Cause::Refused(_)) {
        return;
    }
    let explanation = e.explain(&request);
    let path = explanation
        .request
        .path
        .expect("an accepted request has a path");
    if path == "*" {
        return;
    }
    assert!(path.starts_with('/'), "{path:?}");
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(*s != "." && *s != "..", "dot segment in {path:?}");
        assert!(
            !s.is_empty() || i + 1 == segments.len(),
            "empty segment in {path:?}"
        );
        let edge = |c: Option<char>| c.is_some_and(char::is_whitespace);
        assert!(
            !edge(s.chars().next()) && !edge(s.chars().next_back()),
            "edge space in {path:?}"
        );
    }
    assert!(
        !path.contains('\\') && !path.contains(';') && !path.contains('#') && !path.contains('?'),
        "{path:?}"
    );
    assert!(!path.chars().any(char::is_control), "{path:?}");
    if path == "/admin" || path.starts_with("/admin/") {
        assert!(!v.is_allowed(), "{path:?} escaped the admin rule");
    }
}

/// A format byte and policy text → parse and compile never panic; errors render.
pub fn check_policy(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = match selector % 3 {
        0 => Format::Toml,
        1 => Format::Json,
        _ => Format::Yaml,
    };
    // List files are not read from fuzz input: a list naming a file fails to compile.
    match Policy::parse("fuzz", text.to_owned(), format)
        .and_then(|p| p.with_base_dir("/nonexistent").compile())
    {
        Ok(engine) => {
            let _ = engine.stats();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
