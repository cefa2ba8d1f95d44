//! The compiled engine against the plain reference evaluator, on random policies and requests.

mod reference;

use std::collections::BTreeMap;
use std::net::IpAddr;

use portcullis::{Cause, Decision, Policy, Request};
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
    "2001:db8:1::/48",
    "0.0.0.0/0",
    "203.0.113.5",
    "::/0",
    "198.51.100.0/25",
];
const PEERS: &[&str] = &[
    "10.0.0.1",
    "10.1.2.3",
    "192.0.2.7",
    "203.0.113.5",
    "2001:db8::1",
    "2001:db8:1::5",
    "::ffff:10.1.2.3",
    "198.51.100.1",
    "198.51.100.200",
    "8.8.8.8",
];
const GLOBS: &[&str] = &[
    "/admin/**",
    "/api/*",
    "/api/**",
    "/",
    "/public/**",
    "/a/*/c",
    "**/secret",
    "/**",
    "/api/v{1,2}/*",
    // Per character, not per byte; case folded per Unicode when paths ignore case.
    "/x/?",
    "/x/[\u{e4}b]",
    "/x/[!a]",
    "/x/?/**",
    "/\u{e4}dmin/**",
    "/\u{431}/*",
    "/x/\u{e9}*",
    "/**/[!a]",
];
const SEGMENTS: &[&str] = &[
    "admin",
    "api",
    "public",
    "a",
    "b",
    "c",
    "secret",
    "v1",
    "%61dmin",
    "caf%C3%A9",
    "x+y",
    "x",
    "\u{e4}dmin",
    "\u{c4}DMIN",
    "%C3%84dmin",
    "%C3%A9",
    "%C3%89",
    "\u{e9}",
    "%C3%A4",
    "%C3%84",
    "\u{431}",
    "%D0%91",
    "%E2%82%AC",
    "%F0%9F%98%80",
    "\u{212a}",
    // Tricks the engine must refuse.
    "..",
    ".",
    "",
    "x;y",
    "%2e%2e",
    "a%2fb",
    "%5c",
    "%",
    "a%zz",
    "%00",
];
const METHODS: &[&str] = &["GET", "POST", "DELETE", "HEAD", "get", "PUT"];
const HOSTS: &[&str] = &[
    "example.com",
    "API.example.com",
    "api.example.com:8080",
    "other.org",
    "example.com.",
];
const HOST_GLOBS: &[&str] = &["example.com", "*.example.com", "other.org"];
const ENV_VALUES: &[&str] = &[
    "prod",
    "dev",
    "Prod",
    " prod ",
    "prod, dev",
    "prod,prod-eu",
    ",",
    "pr\u{f8}d",
    "PR\u{d8}D",
    "\u{1f600}",
];
const USER_AGENTS: &[&str] = &[
    "curl/8.0",
    "Mozilla/5.0",
    "python-requests/2",
    "CURL/7",
    "B\u{c4}DBOT/1",
    "b\u{e4}dbot",
    "\u{417}\u{41b}\u{41e}\u{419} \u{411}\u{41e}\u{422}",
    "\u{431}\u{43e}\u{442}",
    "\u{39a}\u{391}\u{39a}\u{38c}",
    "\u{17f}qlmap",
    "\u{212a}it",
    "\u{e9}bot",
];
const UA_GLOBS: &[&str] = &[
    "*curl*",
    "*python*",
    "mozilla*",
    "*b\u{e4}dbot*",
    "*\u{431}\u{43e}\u{442}*",
    "*\u{3ba}\u{3b1}\u{3ba}\u{3cc}*",
    "*sqlmap*",
    "*kit*",
    "?bot",
    "*[\u{e4}b]ot*",
    "[!b]*",
];
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

fn ip_values() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            select(CIDRS).prop_map(str::to_owned),
            select(&["@inner", "@outer"][..]).prop_map(str::to_owned),
        ],
        1..=3,
    )
}

fn header_match() -> impl Strategy<Value = HeaderMatch> {
    prop_oneof![
        Just(HeaderMatch::Exact("prod".into())),
        Just(HeaderMatch::Exact("dev".into())),
        Just(HeaderMatch::Glob("pr*".into())),
        Just(HeaderMatch::Glob("pr?d".into())),
        Just(HeaderMatch::Glob("[!p]*".into())),
        Just(HeaderMatch::Present),
        Just(HeaderMatch::Absent),
    ]
}

fn conds() -> impl Strategy<Value = Conds> {
    (
        (
            opt(ip_values()),
            opt(strings(GLOBS, 2)),
            opt(strings(&["GET", "POST", "DELETE", "get"], 2)),
            opt(strings(HOST_GLOBS, 2)),
        ),
        (
            opt(proptest::collection::vec(header_match(), 1..=2)
                .prop_map(|m| ("x-env".to_owned(), m))),
            opt(strings(UA_GLOBS, 2)),
            opt(strings(&["alpha", "beta", "gamma"], 2)),
            opt(strings(&["reader", "writer"], 1)),
            opt(any::<bool>()),
        ),
        (opt(strings(SCOPES, 2)), opt(strings(TENANTS, 2))),
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

fn rule() -> impl Strategy<Value = (Effect, bool, Conds, Option<Conds>)> {
    (
        prop_oneof![Just(Effect::Allow), Just(Effect::Forbid)],
        prop::bool::weighted(0.15),
        conds(),
        prop_oneof![3 => Just(None), 1 => conds().prop_map(Some)],
    )
}

fn policy() -> impl Strategy<Value = RefPolicy> {
    (
        prop_oneof![Just(Effect::Allow), Just(Effect::Forbid)],
        (any::<bool>(), any::<bool>()),
        strings(CIDRS, 3),
        strings(CIDRS, 3),
        proptest::collection::vec(rule(), 1..=8),
        any::<bool>(),
    )
        .prop_map(
            |(default, (forbid_overrides, case_insensitive_paths), inner, outer, rules, tokens)| {
                // Token conditions need `[tokens]`, which needs the feature.
                let tokens = tokens && cfg!(feature = "tokens");
                let mut lists = BTreeMap::new();
                lists.insert("inner".to_owned(), inner);
                lists.insert("outer".to_owned(), outer);
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
                let rules = rules
                    .into_iter()
                    .enumerate()
                    .map(|(i, (effect, report, mut when, mut unless))| {
                        if !tokens {
                            for c in std::iter::once(&mut when).chain(unless.as_mut()) {
                                c.scope = None;
                                c.tenant = None;
                            }
                        }
                        RefRule {
                            name: format!("r{i}"),
                            effect,
                            report,
                            when,
                            unless,
                        }
                    })
                    .collect();
                RefPolicy {
                    default,
                    forbid_overrides,
                    case_insensitive_paths,
                    lists,
                    clients,
                    tokens,
                    rules,
                }
            },
        )
}

fn request() -> impl Strategy<Value = RefRequest> {
    let target = (
        proptest::collection::vec(select(SEGMENTS), 0..=3),
        any::<bool>(),
        select(
            &[
                "",
                "?q=1",
                "?next=/../admin",
                "?a=%2f",
                "?_method=DELETE",
                "?x=1&_method=get",
            ][..],
        ),
    )
        .prop_map(|(segs, slash, query)| {
            let mut t = format!("/{}", segs.join("/"));
            if slash && !segs.is_empty() {
                t.push('/');
            }
            t + query
        });
    let headers = proptest::collection::vec(
        prop_oneof![
            select(HOSTS).prop_map(|h| ("Host".to_owned(), h.to_owned())),
            select(ENV_VALUES).prop_map(|v| ("X-Env".to_owned(), v.to_owned())),
            select(USER_AGENTS).prop_map(|v| ("User-Agent".to_owned(), v.to_owned())),
            select(KEYS).prop_map(|k| ("X-Api-Key".to_owned(), k.to_owned())),
            select(KEYS).prop_map(|k| ("Authorization".to_owned(), format!("Bearer {k}"))),
            select(&["DELETE", "GET", "post"][..])
                .prop_map(|m| ("X-HTTP-Method-Override".to_owned(), m.to_owned())),
        ],
        0..=4,
    );
    let token = (
        proptest::collection::vec(select(SCOPES).prop_map(str::to_owned), 0..=3),
        opt(select(TENANTS).prop_map(str::to_owned)),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(scopes, tenant, valid)| RefToken {
            scopes,
            tenant,
            valid,
        });
    let token = opt(token).prop_map(|t| t.filter(|_| cfg!(feature = "tokens")));
    (select(METHODS), target, headers, select(PEERS), token).prop_map(
        |(method, target, headers, peer, token)| RefRequest {
            method: method.to_owned(),
            target,
            headers,
            peer: Some(peer.parse::<IpAddr>().expect("pool address")),
            token,
        },
    )
}

fn to_request(r: &RefRequest) -> Request {
    let mut req = Request::new(r.method.clone(), r.target.clone());
    if let Some(p) = r.peer {
        req = req.peer(p);
    }
    for (n, v) in &r.headers {
        req = req.header(n.clone(), v.clone());
    }
    #[cfg(feature = "tokens")]
    if let Some(t) = &r.token {
        use portcullis::testing::BearerClaims;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = serde_json::json!({
            "iss": reference::TOKEN_ISSUER,
            "aud": "api",
            "scope": t.scopes.join(" "),
            "exp": if t.valid { now + 3600 } else { now - 3600 },
        });
        if let Some(tenant) = &t.tenant {
            claims["tenant"] = tenant.clone().into();
        }
        req = req.bearer_claims(claims);
    }
    req
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference(policy in policy(), requests in proptest::collection::vec(request(), 1..=12)) {
        let text = policy.to_toml();
        let engine = Policy::from_toml(&text).and_then(|p| portcullis::testing::compile(&p));
        let engine = match engine {
            Ok(e) => e,
            // The generator may name a role no client holds, which the compiler must refuse.
            Err(e) => {
                prop_assert!(e.to_string().contains("no client has role"), "{e}\n{text}");
                return Ok(());
            }
        };
        for r in &requests {
            let want = evaluate(&policy, r);
            let verdict = engine.decide(&to_request(r));
            let got = match verdict.cause() {
                Cause::Refused(_) => Answer::Refused,
                Cause::Rule(id) => Answer::Decided { allow: verdict.is_allowed(), rule: Some(engine.rule(id).unwrap().name().to_owned()) },
                Cause::Default => Answer::Decided { allow: verdict.is_allowed(), rule: None },
            };
            prop_assert_eq!(&got, &want, "request {:?}\npolicy:\n{}", r, text);
            // The explanation tells the same story as the verdict.
            let explanation = engine.explain(&to_request(r));
            prop_assert_eq!(explanation.decision, verdict.decision());
            prop_assert_eq!(explanation.rule_name(), verdict.rule().map(|id| engine.rule(id).unwrap().name()));
            if let portcullis::explain::DecidedBy::Rule { conditions, .. } = &explanation.decided_by {
                for c in conditions {
                    prop_assert_eq!(c.holds, c.clause == portcullis::Clause::When, "{}\n{}", c, explanation);
                }
            }
            if verdict.decision() == Decision::Allow {
                prop_assert_eq!(verdict.status(), 200);
            }
        }
    }
}

/// The reference's case folding agrees with the regex engine's `(?i)` (Unicode simple case
/// folding) on every character the generators use.
#[test]
fn reference_folding_agrees_with_the_regex_engine() {
    let pools = [
        GLOBS,
        SEGMENTS,
        USER_AGENTS,
        UA_GLOBS,
        ENV_VALUES,
        HOST_GLOBS,
        HOSTS,
    ];
    let mut chars: Vec<char> = pools
        .iter()
        .flat_map(|p| p.iter())
        .flat_map(|s| s.chars())
        .collect();
    // The percent-encoded segments, decoded.
    chars.extend([
        '\u{c4}',
        '\u{e4}',
        '\u{c9}',
        '\u{e9}',
        '\u{411}',
        '\u{20ac}',
        '\u{1f600}',
    ]);
    chars.sort_unstable();
    chars.dedup();
    for &a in &chars {
        let re =
            regex_automata::meta::Regex::new(&format!("(?i)^\\x{{{:X}}}$", u32::from(a))).unwrap();
        for &b in &chars {
            let mut buf = [0u8; 4];
            let want = re.is_match(b.encode_utf8(&mut buf).as_bytes());
            assert_eq!(
                reference::fold(a) == reference::fold(b),
                want,
                "{a:?} {b:?}"
            );
        }
    }
}
