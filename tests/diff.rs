//! `portcullis diff`: on random policy pairs, every request the plain reference evaluator
//! finds changing its answer is covered by a reported change (same pair of deciding rules);
//! and the command end to end.

mod reference;
#[cfg(feature = "cli")]
mod run_cli;

use std::collections::BTreeMap;
use std::net::IpAddr;

use portcullis::diff::{diff, DiffOptions, DiffReport};
use portcullis::replay::Outcome;
use portcullis::Policy;
use proptest::prelude::*;
use proptest::sample::select;
use reference::{
    evaluate, Answer, Conds, Effect, HeaderMatch, RefPolicy, RefRequest, RefRule, RefToken,
};

const CIDRS: &[&str] = &[
    "10.0.0.0/8",
    "10.1.0.0/16",
    "192.0.2.0/24",
    "2001:db8::/32",
    "203.0.113.5",
    "198.51.100.0/25",
];
const PEERS: &[&str] = &[
    "10.0.0.1",
    "10.1.2.3",
    "192.0.2.7",
    "203.0.113.5",
    "2001:db8::1",
    "198.51.100.1",
    "198.51.100.200",
    "8.8.8.8",
];
const GLOBS: &[&str] = &[
    "/admin/**",
    "/api/*",
    "/api/**",
    "/",
    "/a/*/c",
    "**/secret",
    "/api/v{1,2}/*",
    "/x/?",
    "/x/[!a]",
];
const SEGMENTS: &[&str] = &[
    "admin", "api", "a", "b", "c", "secret", "v1", "v2", "x", "Admin", "%61pi",
];
const HOSTS: &[&str] = &["example.com", "API.example.com", "other.org"];
const HOST_GLOBS: &[&str] = &["example.com", "*.example.com", "other.org"];
const ENV_VALUES: &[&str] = &["prod", "dev", "Prod", "prod, dev", "pr0d"];
const USER_AGENTS: &[&str] = &["curl/8.0", "Mozilla/5.0", "python-requests/2", "CURL/7"];
const UA_GLOBS: &[&str] = &["*curl*", "*python*", "mozilla*"];
const KEYS: &[&str] = &["ka", "kb", "kc", "bad"];
const SCOPES: &[&str] = &["orders:read", "orders:write", "admin"];
const TENANTS: &[&str] = &["acme", "globex"];

fn strings(pool: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(select(pool).prop_map(str::to_owned), 1..=max)
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![3 => Just(None), 1 => s.prop_map(Some)]
}

fn conds() -> impl Strategy<Value = Conds> {
    (
        (
            opt(proptest::collection::vec(
                prop_oneof![
                    select(CIDRS).prop_map(str::to_owned),
                    Just("@office".to_owned()),
                ],
                1..=2,
            )),
            opt(strings(GLOBS, 2)),
            opt(strings(&["GET", "POST", "DELETE"], 2)),
            opt(strings(HOST_GLOBS, 1)),
        ),
        (
            opt(proptest::collection::vec(
                prop_oneof![
                    Just(HeaderMatch::Exact("prod".into())),
                    Just(HeaderMatch::Glob("pr*".into())),
                    Just(HeaderMatch::Present),
                    Just(HeaderMatch::Absent),
                ],
                1..=2,
            )
            .prop_map(|m| ("x-env".to_owned(), m))),
            opt(strings(UA_GLOBS, 1)),
            opt(strings(&["alpha", "beta"], 1)),
            opt(strings(&["reader", "writer"], 1)),
            opt(any::<bool>()),
        ),
        // Token conditions (dropped from policies without `[tokens]`) as often as not.
        (
            proptest::option::of(strings(SCOPES, 2)),
            proptest::option::of(strings(TENANTS, 2)),
        ),
    )
        .prop_map(
            |(
                (ip, path, method, host),
                (header, user_agent, client, role, authenticated),
                (scope, tenant),
            )| Conds {
                ip,
                path,
                method,
                host,
                header,
                user_agent,
                client,
                role,
                authenticated,
                scope,
                tenant,
            },
        )
}

/// Token conditions compile only in a policy with `[tokens]`.
fn without_tokens(mut c: Conds) -> Conds {
    c.scope = None;
    c.tenant = None;
    c
}

fn policy() -> impl Strategy<Value = RefPolicy> {
    let rule = (
        prop_oneof![Just(Effect::Allow), Just(Effect::Forbid)],
        prop::bool::weighted(0.1),
        conds(),
        prop_oneof![3 => Just(None), 1 => conds().prop_map(Some)],
    );
    (
        prop_oneof![Just(Effect::Allow), Just(Effect::Forbid)],
        any::<bool>(),
        strings(CIDRS, 2),
        proptest::collection::vec(rule, 1..=4),
        any::<bool>(),
    )
        .prop_map(|(default, forbid_overrides, office, rules, tokens)| {
            let mut clients = BTreeMap::new();
            clients.insert(
                "alpha".to_owned(),
                ("ka".to_owned(), vec!["reader".to_owned()]),
            );
            clients.insert(
                "beta".to_owned(),
                (
                    "kb".to_owned(),
                    vec!["reader".to_owned(), "writer".to_owned()],
                ),
            );
            clients.insert("gamma".to_owned(), ("kc".to_owned(), vec![]));
            RefPolicy {
                default,
                forbid_overrides,
                case_insensitive_paths: false,
                tokens,
                lists: BTreeMap::from([("office".to_owned(), office)]),
                clients,
                rules: rules
                    .into_iter()
                    .enumerate()
                    .map(|(i, (effect, report, when, unless))| RefRule {
                        name: format!("r{i}"),
                        effect,
                        report,
                        when: if tokens { when } else { without_tokens(when) },
                        unless: unless.map(|u| if tokens { u } else { without_tokens(u) }),
                    })
                    .collect(),
            }
        })
}

/// A second policy: the first with one or two edits (a rule's effect flipped, a rule
/// dropped, a condition replaced, the default flipped, a scope or tenant changed), or an
/// unrelated one.
fn pair() -> impl Strategy<Value = (RefPolicy, RefPolicy)> {
    (
        policy(),
        policy(),
        0..7usize,
        any::<prop::sample::Index>(),
        conds(),
    )
        .prop_map(|(old, other, edit, at, c)| {
            let mut new = old.clone();
            let i = at.index(new.rules.len());
            match edit {
                0 => {
                    let r = &mut new.rules[i];
                    r.effect = match r.effect {
                        Effect::Allow => Effect::Forbid,
                        Effect::Forbid => Effect::Allow,
                    };
                }
                1 if new.rules.len() > 1 => {
                    new.rules.remove(i);
                }
                2 if new.tokens => new.rules[i].when = c,
                2 => new.rules[i].when = without_tokens(c),
                // The token conditions alone: `scope = ["orders:write"]` becomes
                // `scope = ["orders:read"]`, a tenant is added or dropped.
                4 | 5 if new.tokens => {
                    let r = &mut new.rules[i];
                    r.when.scope = c.scope;
                    r.when.tenant = c.tenant;
                }
                3 => {
                    new.default = match new.default {
                        Effect::Allow => Effect::Forbid,
                        Effect::Forbid => Effect::Allow,
                    };
                }
                _ => new = other,
            }
            (old, new)
        })
}

fn request() -> impl Strategy<Value = RefRequest> {
    let token = prop_oneof![
        1 => Just(None),
        2 => (
            proptest::collection::btree_set(select(SCOPES), 0..=3),
            proptest::option::of(select(TENANTS).prop_map(str::to_owned)),
            prop::bool::weighted(0.85),
        )
            .prop_map(|(scopes, tenant, valid)| Some(RefToken {
                scopes: scopes.into_iter().map(str::to_owned).collect(),
                tenant,
                valid,
            })),
    ];
    let target = (
        proptest::collection::vec(select(SEGMENTS), 0..=3),
        any::<bool>(),
    )
        .prop_map(|(segs, slash)| {
            let mut t = format!("/{}", segs.join("/"));
            if slash && !segs.is_empty() {
                t.push('/');
            }
            t
        });
    let headers = proptest::collection::vec(
        prop_oneof![
            select(HOSTS).prop_map(|h| ("Host".to_owned(), h.to_owned())),
            select(ENV_VALUES).prop_map(|v| ("X-Env".to_owned(), v.to_owned())),
            select(USER_AGENTS).prop_map(|v| ("User-Agent".to_owned(), v.to_owned())),
            select(KEYS).prop_map(|k| ("X-Api-Key".to_owned(), k.to_owned())),
        ],
        0..=4,
    );
    (
        select(&["GET", "POST", "DELETE", "HEAD", "PUT"][..]),
        target,
        headers,
        select(PEERS),
        token,
    )
        .prop_map(|(method, target, headers, peer, token)| RefRequest {
            method: method.to_owned(),
            target,
            headers,
            peer: Some(peer.parse::<IpAddr>().expect("pool address")),
            token,
        })
}

/// `(allowed, deciding rule, refused)`, from the reference and from a diff's outcome.
type Side = (bool, Option<String>, bool);

fn side(a: &Answer) -> Side {
    match a {
        Answer::Refused => (false, None, true),
        Answer::Decided { allow, rule } => (*allow, rule.clone(), false),
    }
}

fn outcome_side(o: &Outcome) -> Side {
    (o.is_allowed(), o.rule.clone(), o.refusal.is_some())
}

fn covered(report: &DiffReport, from: &Side, to: &Side) -> bool {
    report
        .changes
        .iter()
        .any(|g| outcome_side(&g.from) == *from && outcome_side(&g.to) == *to)
}

/// Runs the property over `cases` random pairs; returns how many changes were checked, and
/// in how many the token decided an answer (without it, one side's outcome differs).
fn check_pairs(cases: u32, tokens_first: bool) -> (usize, usize) {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let checked = std::cell::Cell::new(0usize);
    let by_token = std::cell::Cell::new(0usize);
    let pairs = pair().prop_map(move |(old, new)| match tokens_first {
        true => (tokens_first_policy(old), tokens_first_policy(new)),
        false => (old, new),
    });
    let strategy = (pairs, proptest::collection::vec(request(), 1..=48));
    let result = runner.run(&strategy, |((old, new), requests)| {
        // The test harness's key stands in for the issuer's key set, which is never fetched.
        let compile = |p: &RefPolicy| {
            Policy::from_toml(&p.to_toml()).and_then(|x| {
                portcullis::testing::compile(&x)?;
                Ok(x)
            })
        };
        // The generator may name a role no client holds, which the compiler refuses.
        let (Ok(a), Ok(b)) = (compile(&old), compile(&new)) else {
            return Ok(());
        };
        let report = diff(
            &a,
            &b,
            // Tokens multiply the classes: a rare pair reaches 600,000.
            &DiffOptions {
                budget: 1_500_000,
                examples: 1,
            },
        )
        .unwrap();
        prop_assert!(report.exhaustive, "{} classes", report.classes);
        prop_assert_eq!(
            report.changed,
            report.changes.iter().map(|g| g.count).sum::<u64>()
        );
        for r in &requests {
            let (from, to) = (side(&evaluate(&old, r)), side(&evaluate(&new, r)));
            if from.0 == to.0 {
                continue;
            }
            checked.set(checked.get() + 1);
            let bare = RefRequest {
                token: None,
                ..r.clone()
            };
            if side(&evaluate(&old, &bare)) != from || side(&evaluate(&new, &bare)) != to {
                by_token.set(by_token.get() + 1);
            }
            prop_assert!(
                covered(&report, &from, &to),
                "{from:?} -> {to:?} for {r:?} is not in the report {:#?}\nold:\n{}\nnew:\n{}",
                report
                    .changes
                    .iter()
                    .map(|g| format!("{} -> {}", g.from, g.to))
                    .collect::<Vec<_>>(),
                old.to_toml(),
                new.to_toml()
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    (checked.get(), by_token.get())
}

#[test]
fn every_change_the_reference_finds_is_reported() {
    let (checked, _) = check_pairs(96, false);
    // The property is only as strong as the changes it met.
    assert!(checked >= 100, "only {checked} changes were checked");
}

/// A policy with `[tokens]` whose rules read the path, the method, keys and tokens only, so
/// that random requests often meet the token conditions.
fn tokens_first_policy(mut p: RefPolicy) -> RefPolicy {
    p.tokens = true;
    for r in &mut p.rules {
        for c in std::iter::once(&mut r.when).chain(r.unless.as_mut()) {
            c.ip = None;
            c.host = None;
            c.header = None;
            c.user_agent = None;
        }
    }
    p
}

#[cfg(feature = "tokens")]
#[test]
fn every_change_the_reference_finds_is_reported_with_tokens() {
    let (checked, by_token) = check_pairs(160, true);
    assert!(checked >= 100, "only {checked} changes were checked");
    eprintln!("{checked} changes checked; the token decided {by_token}");
    // Non-vacuous for tokens: in these changes the token decided an answer.
    assert!(by_token >= 40, "the token decided only {by_token} changes");
}

#[test]
fn identical_policies_have_no_changes() {
    let p =
        Policy::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy.toml")).unwrap();
    let report = diff(&p, &p, &DiffOptions::default()).unwrap();
    assert!(report.exhaustive);
    assert!(report.witnesses > 1);
    assert_eq!(report.changed, 0);
    assert!(report.changes.is_empty());
}

#[test]
fn a_key_moved_between_clients_is_a_change() {
    let policy = |client: &str| {
        Policy::from_toml(&format!(
            r#"
[policy]
default = "forbid"
[keys.clients.{client}]
sha256 = ["{}"]
[keys.clients.other]
sha256 = ["{}"]
[[rules]]
name = "acme-only"
effect = "allow"
when = {{ client = "acme" }}
"#,
            portcullis::hash_key(b"secret-1"),
            portcullis::hash_key(b"secret-2"),
        ))
        .unwrap()
    };
    let old = policy("acme");
    let new = {
        // The new policy gives the name `acme` to the other key.
        let text = format!(
            r#"
[policy]
default = "forbid"
[keys.clients.acme]
sha256 = ["{}"]
[keys.clients.renamed]
sha256 = ["{}"]
[[rules]]
name = "acme-only"
effect = "allow"
when = {{ client = "acme" }}
"#,
            portcullis::hash_key(b"secret-2"),
            portcullis::hash_key(b"secret-1"),
        );
        Policy::from_toml(&text).unwrap()
    };
    let report = diff(&old, &new, &DiffOptions::default()).unwrap();
    let changes: Vec<String> = report
        .changes
        .iter()
        .map(|g| format!("{} -> {}", g.from, g.to))
        .collect();
    assert_eq!(
        changes,
        [
            "allow by rule \"acme-only\" -> forbidden (403) by default",
            "forbidden (403) by default -> allow by rule \"acme-only\"",
        ],
        "{report:#?}"
    );
    // Keys show by client, never as a stand-in or a secret.
    let shown = report.changes[0].examples[0].to_string();
    assert!(shown.contains("<key of client acme / renamed>"), "{shown}");
}

#[cfg(feature = "cli")]
#[test]
fn the_command_lists_changes_and_fails_ci_when_asked() {
    use run_cli::{json, run, stdout, temp};
    let text = std::fs::read_to_string("examples/policy.toml")
        .unwrap()
        .replace("unless = { ip = [\"@office\"] }", "");
    let newer = temp("diff-new.toml", text);
    std::fs::copy(
        "examples/blocklist.txt",
        newer.with_file_name("blocklist.txt"),
    )
    .unwrap();
    let new = newer.to_str().unwrap();

    let o = run(&["diff", "examples/policy.toml", new], None);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("in 1 group"), "{out}");
    assert!(
        out.contains("allow by rule \"admin\" -> forbidden (404) by rule \"admin-from-office\""),
        "{out}"
    );
    let o = run(
        &[
            "diff",
            "examples/policy.toml",
            new,
            "--fail-on-change",
            "--json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["exhaustive"], true);
    let g = &v["changes"][0];
    assert_eq!(
        (g["from"]["rule"].as_str(), g["to"]["rule"].as_str()),
        (Some("admin"), Some("admin-from-office"))
    );
    // The smallest witness: an office address under /admin, nothing else.
    let e = &g["examples"][0];
    assert_eq!(e["method"], "GET");
    assert_eq!(e["target"], "/admin");
    assert_eq!(e["headers"], serde_json::json!([]));
    let peer: IpAddr = e["peer"].as_str().unwrap().parse().unwrap();
    assert!(
        "203.0.113.0/24"
            .parse::<ipnet::IpNet>()
            .unwrap()
            .contains(&peer)
            || "2001:db8:1::/48"
                .parse::<ipnet::IpNet>()
                .unwrap()
                .contains(&peer),
        "{peer}"
    );

    let o = run(
        &[
            "diff",
            "examples/policy.toml",
            "examples/policy.toml",
            "--fail-on-change",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("no request changes its answer"));
}

#[cfg(feature = "tokens")]
fn token_policy(when: &str) -> Policy {
    Policy::from_toml(&format!(
        r#"
[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["orders-api"]
jwks = {{ url = "https://id.example.com/jwks.json" }}
algorithms = ["RS256"]
roles_claim = "roles"
[[rules]]
name = "orders"
effect = "allow"
when = {{ path = "/orders/**", {when} }}
"#
    ))
    .unwrap()
}

/// Old `when`, new `when`, the changes as `(from, to)`, and a claim the smallest example of
/// the first change shows.
#[cfg(feature = "tokens")]
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[cfg(feature = "tokens")]
#[test]
fn a_change_of_token_conditions_is_a_change() {
    let allow = "allow by rule \"orders\"";
    let forbid = "forbidden (403) by default";
    let cases: [Case<'_>; 7] = [
        (
            r#"scope = ["orders:write"]"#,
            r#"scope = ["orders:read"]"#,
            &[(allow, forbid), (forbid, allow)],
            r#""scope":"orders:write""#,
        ),
        (
            r#"scope = ["orders:write"]"#,
            r#"scope = { any = ["orders:write", "orders:read"] }"#,
            &[(forbid, allow)],
            r#""scope":"orders:read""#,
        ),
        (
            r#"scope = ["a", "b"]"#,
            r#"scope = ["a"]"#,
            &[(forbid, allow)],
            r#""scope":"a""#,
        ),
        (
            r#"claim = { tenant = "acme" }"#,
            r#"claim = { tenant = { glob = "acme*" } }"#,
            &[(forbid, allow)],
            r#""tenant":"acme"#,
        ),
        (
            r#"claim = { level = 3 }"#,
            r#"claim = { level = [3, 4] }"#,
            &[(forbid, allow)],
            r#""level":4"#,
        ),
        (
            r#"role = "admin""#,
            r#"role = ["admin", "ops"]"#,
            &[(forbid, allow)],
            r#""roles":["ops"]"#,
        ),
        (
            r#"scope = ["orders:write"]"#,
            r#"scope = ["orders:write"], issuer = "corp""#,
            &[],
            "",
        ),
    ];
    for (old, new, want, shown) in cases {
        let report = diff(
            &token_policy(old),
            &token_policy(new),
            &DiffOptions::default(),
        )
        .unwrap();
        assert!(report.exhaustive, "{old} -> {new}");
        let got: Vec<(String, String)> = report
            .changes
            .iter()
            .map(|g| (g.from.to_string(), g.to.to_string()))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(got, want, "{old} -> {new}");
        if let Some(g) = report.changes.first() {
            let example = g.examples[0].to_string();
            // The token shows as its claims, never as the token.
            assert!(
                example.contains("authorization: Bearer <token {"),
                "{example}"
            );
            assert!(!example.contains("eyJ"), "{example}");
            assert!(example.contains(shown), "{old} -> {new}: {example}");
        }
    }
}

#[cfg(feature = "tokens")]
#[test]
fn a_change_of_issuer_or_audience_is_a_change() {
    let old = token_policy(r#"scope = "x""#);
    let text = |iss: &str, aud: &str| {
        Policy::from_toml(&format!(
            r#"
[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "{iss}"
audiences = ["{aud}"]
jwks = {{ url = "https://id.example.com/jwks.json" }}
algorithms = ["RS256"]
[[rules]]
name = "orders"
effect = "allow"
when = {{ path = "/orders/**", scope = "x" }}
"#
        ))
        .unwrap()
    };
    for new in [
        text("https://login.example.com/", "orders-api"),
        text("https://id.example.com/", "billing-api"),
    ] {
        let report = diff(&old, &new, &DiffOptions::default()).unwrap();
        let got: Vec<String> = report
            .changes
            .iter()
            .map(|g| format!("{} -> {}", g.from, g.to))
            .collect();
        assert_eq!(
            got,
            [
                "allow by rule \"orders\" -> forbidden (401) by default",
                "forbidden (401) by default -> allow by rule \"orders\"",
                // Elsewhere, a token that stops verifying turns 403 into 401, and back.
                "forbidden (401) by default -> forbidden (403) by default",
                "forbidden (403) by default -> forbidden (401) by default",
            ],
            "{report:#?}"
        );
    }
}
