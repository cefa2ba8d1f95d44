//! The CI tooling on policies with bearer-token conditions: lint's shadowing reads `issuer`,
//! `scope` and `claim` (a table, and a property checked against the engine itself), the token
//! mistakes, and test coverage by cases with `token_claims`.
#![cfg(feature = "tokens")]

use std::collections::BTreeSet;

use portcullis::lint::lint_report;
use portcullis::testing::{req, BearerClaims};
use portcullis::{Engine, Policy};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

const CORP: &str = "https://id.example.com/";
const PARTNER: &str = "https://partner.example.net/";

/// Two issuers, then the rules as written.
fn policy(combine: &str, rules: &str) -> Policy {
    Policy::from_toml(&format!(
        r#"
[policy]
default = "allow"
combine = "{combine}"
lint = {{ allow = ["token-condition-without-issuer"], reason = "tested on its own" }}
[tokens.issuers.corp]
issuer = "{CORP}"
audiences = ["api"]
jwks = {{ url = "https://id.example.com/jwks.json" }}
algorithms = ["RS256"]
[tokens.issuers.partner]
issuer = "{PARTNER}"
audiences = ["api"]
jwks = {{ url = "https://partner.example.net/jwks.json" }}
algorithms = ["ES256"]
{rules}
"#
    ))
    .unwrap()
}

/// The codes lint gives, with the rule each is about.
fn codes(p: &Policy) -> Vec<(String, String)> {
    let engine = portcullis::testing::compile(p).unwrap();
    lint_report(p, &engine)
        .unwrap()
        .warnings
        .into_iter()
        .map(|w| (w.code.to_owned(), w.rule.unwrap_or_default()))
        .collect()
}

fn rule(name: &str, effect: &str, when: &str) -> String {
    format!("[[rules]]\nname = \"{name}\"\neffect = \"{effect}\"\nwhen = {{ {when} }}\n")
}

#[test]
fn shadowing_reads_token_conditions() {
    // (combine, first rule's `when`, second rule's `when`, the warning on the second)
    let cases = [
        // The issue's case: a forbid on a scope does not shadow a rule for everyone.
        (
            "first-match",
            r#"scope = ["admin"]"#,
            r#"path = "/x""#,
            None,
        ),
        (
            "forbid-overrides",
            r#"scope = ["admin"]"#,
            r#"path = "/x""#,
            None,
        ),
        ("first-match", r#"issuer = "corp""#, r#"path = "/x""#, None),
        (
            "first-match",
            r#"claim = { tenant = "acme" }"#,
            r#"path = "/x""#,
            None,
        ),
        // ... but it does shadow a rule that needs more of the same.
        (
            "first-match",
            r#"scope = ["admin"]"#,
            r#"scope = ["admin", "write"]"#,
            Some("shadowed"),
        ),
        (
            "forbid-overrides",
            r#"scope = ["admin"]"#,
            r#"scope = ["admin", "write"], path = "/x""#,
            Some("never-wins"),
        ),
        (
            "first-match",
            r#"scope = ["admin", "write"]"#,
            r#"scope = ["admin"]"#,
            None,
        ),
        (
            "first-match",
            r#"scope = { any = ["a", "b"] }"#,
            r#"scope = { any = ["b", "a"] }"#,
            Some("shadowed"),
        ),
        (
            "first-match",
            r#"scope = { any = ["a", "b"] }"#,
            r#"scope = ["b", "c"]"#,
            Some("shadowed"),
        ),
        (
            "first-match",
            r#"scope = { any = ["a"] }"#,
            r#"scope = { any = ["a", "b"] }"#,
            None,
        ),
        (
            "first-match",
            r#"scope = ["a"]"#,
            r#"scope = { any = ["a", "b"] }"#,
            None,
        ),
        (
            "first-match",
            r#"issuer = ["corp", "partner"]"#,
            r#"issuer = "corp""#,
            Some("shadowed"),
        ),
        (
            "first-match",
            r#"issuer = "corp""#,
            r#"issuer = ["corp", "partner"]"#,
            None,
        ),
        // Every verified token is of one of the issuers; without `[keys]`, only a token
        // authenticates.
        (
            "first-match",
            r#"issuer = ["partner", "corp"]"#,
            r#"scope = ["x"]"#,
            Some("shadowed"),
        ),
        (
            "first-match",
            r#"issuer = ["partner", "corp"]"#,
            "authenticated = true",
            Some("shadowed"),
        ),
        (
            "first-match",
            r#"issuer = "corp""#,
            "authenticated = true",
            None,
        ),
        (
            "first-match",
            r#"claim = { tenant = ["acme", "globex"] }"#,
            r#"claim = { tenant = "acme", level = 3 }"#,
            Some("shadowed"),
        ),
        (
            "first-match",
            r#"claim = { tenant = "acme", level = 3 }"#,
            r#"claim = { tenant = "acme" }"#,
            None,
        ),
        (
            "first-match",
            r#"claim = { level = 3 }"#,
            r#"claim = { level = "3" }"#,
            None,
        ),
        (
            "first-match",
            r#"claim = { email = { glob = "*" } }"#,
            r#"claim = { email = "ann@acme.com" }"#,
            Some("shadowed"),
        ),
        // A token condition holds only for a token that verified.
        (
            "first-match",
            "authenticated = true",
            r#"scope = ["admin"]"#,
            Some("shadowed"),
        ),
        (
            "first-match",
            "authenticated = true",
            r#"claim = { tenant = "acme" }"#,
            Some("shadowed"),
        ),
        (
            "first-match",
            "authenticated = true",
            r#"issuer = "corp""#,
            Some("shadowed"),
        ),
        (
            "first-match",
            "authenticated = false",
            r#"scope = ["admin"]"#,
            None,
        ),
        (
            "first-match",
            r#"scope = ["admin"]"#,
            "authenticated = true",
            None,
        ),
    ];
    for (combine, a, b, want) in cases {
        let (ea, eb) = if combine == "forbid-overrides" {
            ("forbid", "allow")
        } else {
            ("forbid", "forbid")
        };
        let p = policy(combine, &(rule("a", ea, a) + &rule("b", eb, b)));
        let got: Vec<String> = codes(&p)
            .into_iter()
            .filter(|(_, r)| r == "b")
            .map(|(c, _)| c)
            .collect();
        let want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        assert_eq!(got, want, "{combine}: {a} / {b}");
    }
}

#[test]
fn status_401_counts_token_conditions_and_unless() {
    let p = policy(
        "first-match",
        r#"
[[rules]]
name = "needs-scope"
effect = "forbid"
status = 401
when = { path = "/admin/**" }
unless = { scope = "admin" }
[[rules]]
name = "needs-login"
effect = "forbid"
status = 401
when = { path = "/me/**" }
unless = { authenticated = true }
[[rules]]
name = "by-path"
effect = "forbid"
status = 401
when = { path = "/old/**" }
"#,
    );
    assert_eq!(
        codes(&p),
        [("status-401-without-auth".to_owned(), "by-path".to_owned())]
    );
}

// The property: over two-rule policies of token conditions, lint reports that the second rule
// never decides exactly when the engine, asked with every token of a pool that holds each
// combination the conditions can tell apart, never lets it decide.

const SCOPES: &[&str] = &["x", "y", "z"];
const TENANTS: &[&str] = &["acme", "globex"];

/// The `when` of one generated rule.
fn conditions() -> impl Strategy<Value = String> {
    let scope = prop_oneof![
        proptest::collection::btree_set(select(SCOPES), 1..=2)
            .prop_map(|s| format!("scope = {:?}", s.into_iter().collect::<Vec<_>>())),
        proptest::collection::btree_set(select(SCOPES), 1..=3).prop_map(|s| format!(
            "scope = {{ any = {:?} }}",
            s.into_iter().collect::<Vec<_>>()
        )),
    ];
    let issuer = proptest::collection::btree_set(select(&["corp", "partner"][..]), 1..=2)
        .prop_map(|s| format!("issuer = {:?}", s.into_iter().collect::<Vec<_>>()));
    let tenant = proptest::collection::btree_set(select(TENANTS), 1..=2).prop_map(|s| {
        format!(
            "claim = {{ tenant = {:?} }}",
            s.into_iter().collect::<Vec<_>>()
        )
    });
    let authenticated = any::<bool>().prop_map(|a| format!("authenticated = {a}"));
    let path = select(&["/a/**", "/a/b"][..]).prop_map(|p| format!("path = {p:?}"));
    let opt = |s: BoxedStrategy<String>| prop_oneof![Just(None), s.prop_map(Some)];
    (
        opt(scope.boxed()),
        opt(issuer.boxed()),
        opt(tenant.boxed()),
        prop_oneof![4 => Just(None), 1 => authenticated.prop_map(Some)],
        prop_oneof![3 => Just(None), 1 => path.prop_map(Some)],
    )
        .prop_map(|(a, b, c, d, e)| {
            [a, b, c, d, e]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        })
}

/// Every token the pool holds: each issuer, each set of scopes, each tenant (alone, absent, in
/// an array beside another), and none; each on three paths.
fn requests() -> Vec<(String, portcullis::Request)> {
    let mut tokens: Vec<Option<Value>> = vec![None];
    for iss in [CORP, PARTNER] {
        for mask in 0..(1 << SCOPES.len()) {
            let scopes: Vec<&str> = (0..SCOPES.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| SCOPES[i])
                .collect();
            let mut tenants: Vec<Option<Value>> = TENANTS.iter().map(|t| Some(json!(t))).collect();
            tenants.push(None);
            tenants.push(Some(json!(["other", "globex"])));
            tenants.push(Some(json!(["acme", "globex"])));
            for tenant in tenants {
                let mut claims = json!({ "iss": iss, "aud": "api", "scope": scopes.join(" ") });
                if let Some(t) = tenant {
                    claims["tenant"] = t;
                }
                tokens.push(Some(claims));
            }
        }
    }
    let mut out = Vec::new();
    for path in ["/a/b", "/a/c", "/c"] {
        for t in &tokens {
            let r = req(&format!("GET {path} from 192.0.2.1"));
            let (label, r) = match t {
                Some(c) => (format!("{path} {c}"), r.bearer_claims(c.clone())),
                None => (format!("{path} without a token"), r),
            };
            out.push((label, r));
        }
    }
    out
}

/// Whether rule `b` decides some request of the pool, and whether it applies to one (its
/// report-mode copy `b-applies` is then reported).
fn b_decides(engine: &Engine, pool: &[(String, portcullis::Request)]) -> (bool, bool) {
    let b = engine.rule_by_name("b").unwrap().id();
    let copy = engine.rule_by_name("b-applies").unwrap().id();
    let (mut decides, mut applies) = (false, false);
    for (_, r) in pool {
        let v = engine.decide(r);
        decides |= v.rule() == Some(b);
        applies |= v.reported().iter().any(|id| id == copy);
    }
    (decides, applies)
}

#[test]
fn a_shadowing_warning_holds_exactly_when_the_engine_agrees() {
    let pool = requests();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    let warned = std::cell::Cell::new(0);
    let silent = std::cell::Cell::new(0);
    let strategy = (any::<bool>(), any::<bool>(), conditions(), conditions());
    runner
        .run(&strategy, |(overrides, b_allows, a, b)| {
            let (combine, ea, eb) = match (overrides, b_allows) {
                (true, _) => ("forbid-overrides", "forbid", "allow"),
                (false, true) => ("first-match", "forbid", "allow"),
                (false, false) => ("first-match", "forbid", "forbid"),
            };
            // The report-mode copy of `b` only reports where `b` applies: it never decides.
            let copy = format!("{}mode = \"report\"\n", rule("b-applies", "forbid", &b));
            let p = policy(combine, &(rule("a", ea, &a) + &rule("b", eb, &b) + &copy));
            let engine = portcullis::testing::compile(&p).unwrap();
            let warning: BTreeSet<String> = lint_report(&p, &engine)
                .unwrap()
                .warnings
                .into_iter()
                .filter(|w| w.rule.as_deref() == Some("b"))
                .map(|w| w.code.to_owned())
                .filter(|c| ["shadowed", "after-catch-all", "never-wins"].contains(&c.as_str()))
                .collect();
            let (decides, applies) = b_decides(&engine, &pool);
            if !warning.is_empty() {
                warned.set(warned.get() + 1);
                prop_assert!(!decides, "{warning:?} but rule b decides:\n{a}\n{b}");
            } else if applies {
                silent.set(silent.get() + 1);
                // Exact for these conditions: a rule that can apply but never decides is
                // warned about.
                prop_assert!(decides, "no warning, but rule b never decides:\n{a}\n{b}");
            }
            Ok(())
        })
        .unwrap();
    // Both sides of the property were met often enough to mean something.
    assert!(warned.get() >= 15, "only {} warnings", warned.get());
    assert!(silent.get() >= 40, "only {} silent cases", silent.get());
}

/// The token mistakes lint finds in a policy that compiles, as `(code, rule, line)`.
fn mistakes(text: &str) -> Vec<(String, String, usize)> {
    let p = Policy::from_toml(text).unwrap();
    let engine = portcullis::testing::compile(&p).unwrap();
    lint_report(&p, &engine)
        .unwrap()
        .warnings
        .into_iter()
        .map(|w| {
            (
                w.code.to_owned(),
                w.rule.unwrap_or_default(),
                w.location.map_or(0, |l| l.line),
            )
        })
        .collect()
}

const ISSUERS: &str = r#"
[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["api"]
jwks = { url = "https://id.example.com/jwks.json" }
algorithms = ["RS256"]
roles_claim = "roles"
client_claim = "client_id"
[tokens.issuers.partner]
issuer = "https://partner.example.net/"
audiences = ["api"]
jwks = { url = "https://partner.example.net/jwks.json" }
algorithms = ["ES256"]
"#;

#[test]
fn token_mistakes_are_warned_about_where_they_are_written() {
    let text = format!(
        r#"{ISSUERS}
[[rules]]
name = "scope-as-claim"
effect = "allow"
when = {{ issuer = "corp", claim = {{ scope = "orders:write" }} }}
[[rules]]
name = "comma"
effect = "allow"
when = {{ issuer = "corp", scope = ["orders:read,orders:write"] }}
[[rules]]
name = "any-issuer"
effect = "allow"
when = {{ path = "/admin/**", scope = "admin" }}
[[rules]]
name = "exempt-any-issuer"
effect = "forbid"
when = {{ path = "/billing/**" }}
unless = {{ claim = {{ tenant = "acme" }} }}
"#
    );
    let found = mistakes(&text);
    let want = [
        ("claim-with-own-condition", "scope-as-claim", 20),
        ("scope-with-comma", "comma", 24),
        ("token-condition-without-issuer", "any-issuer", 28),
        ("token-condition-without-issuer", "exempt-any-issuer", 33),
        ("unused-roles-claim", "", 9),
    ];
    let found: Vec<(&str, &str, usize)> = found
        .iter()
        .map(|(c, r, l)| (c.as_str(), r.as_str(), *l))
        .collect();
    assert_eq!(found, want);
}

#[test]
fn token_mistake_messages_say_what_to_write() {
    let p = Policy::from_toml(&format!(
        r#"{ISSUERS}
[[rules]]
name = "r"
effect = "allow"
when = {{ issuer = "corp", scope = "a,b", claim = {{ scp = "a" }}, role = "admin" }}
"#
    ))
    .unwrap();
    let text: Vec<String> = portcullis::lint::mistakes(&p)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(text[0].contains("write `scope = [...]`"), "{}", text[0]);
    assert!(
        text[1].contains(r#"for several write `["a", "b"]`"#),
        "{}",
        text[1]
    );
}

#[test]
fn a_client_or_role_a_token_issuer_can_mint_is_named_with_its_issuer() {
    // `corp` names clients and roles, `partner` neither; `billing` is also an API client.
    let keys = r#"
[keys.clients.billing]
sha256 = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
roles = ["finance"]
"#;
    let rules = r#"
[[rules]]
name = "billing-any-source"
effect = "allow"
when = { path = "/billing/**", client = "billing" }
[[rules]]
name = "finance-any-source"
effect = "allow"
when = { path = "/finance/**", role = "finance" }
[[rules]]
name = "billing-from-corp"
effect = "allow"
when = { path = "/corp/**", issuer = "corp", client = "billing" }
[[rules]]
name = "token-only-name"
effect = "allow"
when = { path = "/reports/**", client = "reporter" }
[[rules]]
name = "forbid-names-no-grant"
effect = "forbid"
when = { path = "/closed/**", client = "billing" }
"#;
    let found = mistakes(&format!("{ISSUERS}{keys}{rules}"));
    let found: Vec<(&str, &str)> = found
        .iter()
        .filter(|(c, _, _)| c == "identity-without-issuer")
        .map(|(_, r, _)| ("identity-without-issuer", r.as_str()))
        .collect();
    // Only the grants whose name both an API client and `corp` can hold.
    assert_eq!(
        found,
        [
            ("identity-without-issuer", "billing-any-source"),
            ("identity-without-issuer", "finance-any-source"),
        ]
    );

    // With a second issuer that names clients, any client name is ambiguous.
    let two = ISSUERS.replace(
        "algorithms = [\"ES256\"]\n",
        "algorithms = [\"ES256\"]\nclient_claim = \"azp\"\n",
    );
    assert_ne!(two, ISSUERS);
    let p = Policy::from_toml(&format!("{two}{keys}{rules}")).unwrap();
    let messages: Vec<String> = portcullis::lint::mistakes(&p)
        .into_iter()
        .filter(|w| w.code == "identity-without-issuer")
        .map(|w| format!("{}: {}", w.rule.unwrap_or_default(), w.message))
        .collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(
        messages[2].starts_with("token-only-name: "),
        "{messages:#?}"
    );
    assert!(
        messages[2].contains("the issuers `corp`, `partner`"),
        "{}",
        messages[2]
    );

    // Listing both issuers leaves the name as open as leaving them out; one of them closes it.
    let listed = r#"
[[rules]]
name = "both-issuers"
effect = "allow"
when = { path = "/both/**", issuer = ["corp", "partner"], client = "reporter" }
[[rules]]
name = "one-issuer"
effect = "allow"
when = { path = "/one/**", issuer = ["partner"], client = "reporter" }
"#;
    let found = mistakes(&format!("{two}{listed}"));
    let rules: Vec<&str> = found
        .iter()
        .filter(|(c, _, _)| c == "identity-without-issuer")
        .map(|(_, r, _)| r.as_str())
        .collect();
    assert_eq!(rules, ["both-issuers"]);
}

#[test]
fn two_issuers_with_one_iss_are_a_mistake() {
    let text = r#"
[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["api"]
jwks = { url = "https://id.example.com/jwks.json" }
algorithms = ["RS256"]
[tokens.issuers.corp-new]
issuer = "https://id.example.com/"
audiences = ["api", "api-v2"]
jwks = { url = "https://id.example.com/v2/jwks.json" }
algorithms = ["ES256"]
[[rules]]
name = "any-token"
effect = "allow"
when = { authenticated = true }
"#;
    let found = mistakes(text);
    assert_eq!(found, [("duplicate-issuer".to_owned(), String::new(), 10)]);
    let p = Policy::from_toml(text).unwrap();
    let m = portcullis::lint::mistakes(&p);
    assert!(
        m[0].message
            .contains("`corp-new`'s keys and audiences are never used"),
        "{}",
        m[0].message
    );
}

#[test]
fn sound_token_policies_lint_clean() {
    // One issuer needs no `issuer` condition; scopes read one by one; a claim of its own;
    // `roles_claim` read by a rule; `client_claim` is for logs too, so never warned about.
    let one = r#"
[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["api"]
jwks = { url = "https://id.example.com/jwks.json" }
algorithms = ["RS256", "ES256"]
roles_claim = "roles"
client_claim = "azp"
[[rules]]
name = "orders-write"
effect = "allow"
when = { path = "/orders/**", method = "POST", scope = ["orders:write"], claim = { tenant = ["acme"] } }
[[rules]]
name = "admins"
effect = "allow"
when = { role = "admin" }
[[rules]]
name = "billing-needs-login"
effect = "forbid"
status = 401
when = { path = "/billing/**" }
unless = { authenticated = true }
"#;
    assert_eq!(mistakes(one), []);
    // Several issuers, each grant naming the issuer it trusts; a forbid's `when` may read
    // any issuer's claims, since it can only refuse.
    let several = format!(
        r#"{ISSUERS}
[[rules]]
name = "corp-admins"
effect = "allow"
when = {{ issuer = "corp", scope = {{ any = ["admin", "root"] }}, role = "admin" }}
[[rules]]
name = "no-suspended"
effect = "forbid"
when = {{ claim = {{ suspended = true }} }}
"#
    );
    assert_eq!(mistakes(&several), []);
}

#[test]
fn cases_with_token_claims_count_toward_coverage() {
    let p = Policy::from_toml(
        r#"
[policy]
default = "forbid"
[tokens.issuers.corp]
issuer = "https://id.example.com/"
audiences = ["api"]
jwks = { url = "https://id.example.com/jwks.json" }
algorithms = ["RS256"]
roles_claim = "roles"
[[rules]]
name = "orders-write"
effect = "allow"
when = { path = "/orders/**", scope = "orders:write" }
[[rules]]
name = "admins"
effect = "allow"
when = { role = "admin", claim = { tenant = { glob = "acme-*" } } }
[[rules]]
name = "untested"
effect = "allow"
when = { scope = "never-sent" }
[[tests]]
name = "write"
request = { peer = "192.0.2.1", method = "POST", target = "/orders/1", token_claims = { scope = "orders:read orders:write" } }
expect = "allow"
rule = "orders-write"
[[tests]]
name = "admin"
request = { peer = "192.0.2.1", target = "/x", token_claims = { roles = ["admin"], tenant = "acme-eu" } }
expect = "allow"
rule = "admins"
[[tests]]
name = "reader"
request = { peer = "192.0.2.1", method = "POST", target = "/orders/1", token_claims = { scope = "orders:read" } }
expect = "forbid"
status = 403
"#,
    )
    .unwrap();
    let engine = portcullis::testing::compile(&p).unwrap();
    let cases = portcullis::testing::policy_cases(&p, &engine).unwrap();
    let report = portcullis::testing::run(&engine, &cases);
    assert_eq!(report.failed(), 0, "{:#?}", report.results);
    assert_eq!(report.unexercised, ["untested"]);
    assert_eq!(report.never_decided, ["untested"]);
}
