//! Request → decide: never panics, is deterministic, agrees with its explanation, and agrees
//! with the plain reference evaluator from the test suite.
#![no_main]

#[path = "../../tests/reference/mod.rs"]
mod reference;

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::{Cause, Engine, Policy, Request};
use reference::{evaluate, Answer, Conds, Effect, HeaderMatch, RefPolicy, RefRequest, RefRule};

/// A request whose every byte the fuzzer chooses; the `Debug` output is a reproducer.
#[derive(Debug, Arbitrary)]
struct FuzzRequest {
    method: u8,
    target: String,
    headers: Vec<(u8, String)>,
    peer: [u8; 4],
}

const METHODS: [&str; 5] = ["GET", "POST", "DELETE", "HEAD", "get"];
const NAMES: [&str; 7] = ["host", "x-env", "user-agent", "x-api-key", "authorization", "x-http-method-override", "x-other"];

fn policies() -> &'static [(RefPolicy, Engine)] {
    static P: OnceLock<Vec<(RefPolicy, Engine)>> = OnceLock::new();
    P.get_or_init(|| {
        let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        let mut clients = std::collections::BTreeMap::new();
        clients.insert("alpha".to_owned(), ("ka".to_owned(), vec!["reader".to_owned()]));
        let mut lists = std::collections::BTreeMap::new();
        lists.insert("inner".to_owned(), vec!["10.0.0.0/8".to_owned(), "192.0.2.0/24".to_owned()]);
        let rules = vec![
            RefRule { name: "a".into(), effect: Effect::Forbid, report: false, when: Conds { ip: s(&["@inner"]), path: s(&["/admin/**"]), ..Conds::default() }, unless: None },
            RefRule { name: "b".into(), effect: Effect::Allow, report: false, when: Conds { path: s(&["/api/*", "/"]), method: s(&["GET"]), ..Conds::default() }, unless: Some(Conds { header: Some(("x-env".into(), vec![HeaderMatch::Exact("dev".into())])), ..Conds::default() }) },
            RefRule { name: "c".into(), effect: Effect::Forbid, report: false, when: Conds { user_agent: s(&["*bot*"]), ..Conds::default() }, unless: None },
            RefRule { name: "d".into(), effect: Effect::Allow, report: false, when: Conds { role: s(&["reader"]), ..Conds::default() }, unless: None },
            RefRule { name: "e".into(), effect: Effect::Forbid, report: false, when: Conds { method: s(&["DELETE"]), ..Conds::default() }, unless: None },
        ];
        [false, true]
            .into_iter()
            .map(|forbid_overrides| {
                let p = RefPolicy { default: Effect::Forbid, forbid_overrides, case_insensitive_paths: false, lists: lists.clone(), clients: clients.clone(), rules: rules.clone() };
                let engine = Policy::from_toml(&p.to_toml()).and_then(|x| x.compile()).expect("fuzz policy compiles");
                (p, engine)
            })
            .collect()
    })
}

fuzz_target!(|input: FuzzRequest| {
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
    for (p, engine) in policies() {
        let v = engine.decide(&request);
        assert_eq!(v, engine.decide(&request), "decide is deterministic");
        let e = engine.explain(&request);
        assert_eq!(e.decision, v.decision());
        // The reference reads only origin-form targets and plain hosts; compare there.
        let comparable = input.target.starts_with('/')
            && headers.iter().all(|(n, v)| n != "host" || v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
        if comparable {
            let r = RefRequest { method: method.to_owned(), target: input.target.clone(), headers: headers.clone(), peer: Some(peer) };
            let want = evaluate(p, &r);
            let got = match v.cause() {
                Cause::Refused(_) => Answer::Refused,
                Cause::Rule(id) => Answer::Decided { allow: v.is_allowed(), rule: Some(engine.rule(id).name().to_owned()) },
                Cause::Default => Answer::Decided { allow: v.is_allowed(), rule: None },
            };
            assert_eq!(got, want, "{r:?}");
        }
    }
});
