//! The gate: responses, counters, reloads.

use std::time::Duration;

use portcullis::gate::{Denial, Gate, Outcome};
use portcullis::{AsRequestView, Policy, Request};

const POLICY: &str = r#"
[policy]
default = "allow"
[[rules]]
name = "hidden"
effect = "forbid"
status = 404
when = { path = ["/hidden/**"] }
[[rules]]
name = "login"
effect = "forbid"
status = 401
when = { path = ["/private/**"] }
[[rules]]
name = "watch"
effect = "forbid"
mode = "report"
when = { path = ["/watched"] }
"#;

fn engine(text: &str) -> portcullis::Engine {
    Policy::from_toml(text).unwrap().compile().unwrap()
}

fn deny(gate: &Gate, request: &Request) -> Denial {
    match gate.check(&request.view()) {
        Outcome::Deny(d) => d,
        Outcome::Pass(c) => panic!("passed: {c:?}"),
    }
}

fn req(target: &str) -> Request {
    Request::get(target).peer("192.0.2.1".parse().unwrap())
}

#[test]
fn default_responses_reveal_nothing() {
    let gate = Gate::new(engine(POLICY));
    let d = deny(&gate, &req("/hidden/x"));
    assert_eq!((d.status, &d.body[..]), (404, &b"Not Found\n"[..]));
    let d = deny(&gate, &req("/private/x"));
    assert_eq!(d.status, 401);
    assert!(d
        .headers
        .iter()
        .any(|(n, v)| *n == "www-authenticate" && v.starts_with("Bearer")));
    let d = deny(&gate, &req("/a/../b"));
    assert_eq!((d.status, &d.body[..]), (400, &b"Bad Request\n"[..]));
    assert!(!String::from_utf8_lossy(&d.body).contains("hidden"));
}

#[test]
fn problem_json_and_exposing_the_rule_are_opt_in() {
    // The peer is no trusted proxy: keeping its request id is opted into.
    let gate = Gate::builder(engine(POLICY))
        .problem_json(true)
        .request_ids(portcullis::gate::RequestIds::FromAnyone)
        .build();
    let d = deny(&gate, &req("/hidden/x").header("x-request-id", "abc-123"));
    assert_eq!(
        d.headers[0],
        ("content-type", "application/problem+json".to_owned())
    );
    let v: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(v["status"], 404);
    assert_eq!(v["title"], "Not Found");
    assert_eq!(v["request_id"], "abc-123");
    assert!(v.get("rule").is_none());
    // An odd request id is not echoed; a fresh one is made.
    let d = deny(&gate, &req("/hidden/x").header("x-request-id", "<script>"));
    let v: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
    assert!(v["request_id"]
        .as_str()
        .is_some_and(|id| !id.contains('<') && !id.is_empty()));

    let gate = Gate::builder(engine(POLICY))
        .problem_json(true)
        .expose_rule(true)
        .build();
    let v: serde_json::Value =
        serde_json::from_slice(&deny(&gate, &req("/hidden/x")).body).unwrap();
    assert_eq!(v["rule"], "hidden");
    let gate = Gate::builder(engine(POLICY)).expose_rule(true).build();
    assert_eq!(
        &deny(&gate, &req("/hidden/x")).body[..],
        b"Not Found (rule \"hidden\")\n"
    );
}

#[test]
fn a_custom_responder_gets_the_verdict() {
    let gate = Gate::builder(engine(POLICY))
        .responder(|verdict, engine| Denial {
            status: 418,
            headers: vec![(
                "x-rule",
                verdict
                    .rule()
                    .map(|id| engine.rule(id).unwrap().name().to_owned())
                    .unwrap_or_default(),
            )],
            body: "no".into(),
        })
        .build();
    let d = deny(&gate, &req("/hidden/x"));
    assert_eq!(d.status, 418);
    assert_eq!(d.headers, [("x-rule", "hidden".to_owned())]);
}

#[test]
fn callers_carry_the_verdict() {
    let text = format!(
        "{POLICY}\n[keys]\n[keys.clients.acme]\nsha256 = [\"{}\"]\nroles = [\"partner\"]\n",
        portcullis::hash_key(b"k")
    );
    let gate = Gate::new(engine(&text));
    let Outcome::Pass(caller) = gate.check(&req("/x").header("x-api-key", "k").view()) else {
        panic!()
    };
    assert_eq!(caller.client.as_deref(), Some("acme"));
    assert!(caller.has_role("partner") && !caller.has_role("admin"));
    assert_eq!(caller.client_ip, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(caller.rule, None);
}

#[test]
fn counters_are_kept_by_rule_name_across_reloads() {
    let gate = Gate::new(engine(POLICY));
    for t in ["/hidden/a", "/hidden/b", "/watched", "/x", "/a//b"] {
        let _ = gate.check(&req(t).view());
    }
    let c = gate.counts();
    assert_eq!(c.rules["hidden"].forbidden, 2);
    assert_eq!(c.rules["watch"].would_forbid, 1);
    assert_eq!(c.default_allowed, 2);
    assert_eq!(c.refused, 1);

    // A new policy that keeps `hidden` and drops `login` keeps counting `hidden`.
    gate.swap(engine("[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"hidden\"\neffect = \"forbid\"\nwhen = { path = \"/h\" }\n"));
    let _ = gate.check(&req("/h").view());
    let c = gate.counts();
    assert_eq!(c.rules["hidden"].forbidden, 3);
    assert!(c.rules.contains_key("login"));
}

#[test]
fn a_failed_reload_keeps_the_old_engine_and_in_flight_requests_keep_theirs() {
    let dir = std::env::temp_dir().join(format!("portcullis-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, POLICY).unwrap();
    let gate = Gate::from_path(&path).unwrap();
    let in_flight = gate.engine();

    std::fs::write(&path, "[policy]\ndefault = \"forbid\"\n[[rules]]\nname = \"x\"\neffect = \"allow\"\nwhen = { ip = [\"10.1.2.3/8\"] }\n").unwrap();
    let err = gate.reload().unwrap_err();
    assert!(err.to_string().contains("host bits"), "{err}");
    assert!(matches!(gate.check(&req("/x").view()), Outcome::Pass(_)));

    std::fs::write(&path, "[policy]\ndefault = \"forbid\"\n").unwrap();
    gate.reload().unwrap();
    assert!(matches!(gate.check(&req("/x").view()), Outcome::Deny(_)));
    // The engine taken before the reload still answers with the old policy.
    assert!(in_flight.decide(&req("/x")).is_allowed());

    std::fs::remove_file(&path).unwrap();
    assert!(gate.reload().is_err());
    assert!(matches!(gate.check(&req("/x").view()), Outcome::Deny(_)));
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(feature = "watch")]
#[test]
fn watched_files_reload_and_bad_writes_are_refused() {
    let dir = std::env::temp_dir().join(format!("portcullis-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[policy]\ndefault = \"allow\"\n").unwrap();
    let gate = Gate::from_path(&path).unwrap();
    let _watcher = gate.watch(Duration::from_millis(50)).unwrap();
    let allowed = || matches!(gate.check(&req("/x").view()), Outcome::Pass(_));
    let wait_for = |want: bool| {
        for _ in 0..200 {
            if allowed() == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    assert!(allowed());
    std::fs::write(&path, "[policy]\ndefault = \"forbid\"\n").unwrap();
    assert!(wait_for(false), "the change was not picked up");
    // A half-written file does not parse: the old engine stays.
    std::fs::write(&path, "[policy]\ndefault = \"al").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(!allowed());
    // A file that disappears keeps the old engine too.
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(!allowed());
    // Written through a rename, as editors do.
    let tmp = dir.join("policy.toml.tmp");
    std::fs::write(&tmp, "[policy]\ndefault = \"allow\"\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(wait_for(true), "the rename was not picked up");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_missing_peer_fails_closed() {
    let gate = Gate::new(engine("[policy]\ndefault = \"allow\"\n"));
    let d = deny(&gate, &Request::get("/"));
    assert_eq!(d.status, 403);
}
