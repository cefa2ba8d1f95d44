//! The mistakes people make with bearer-token conditions that still compile: a `claim` on a
//! claim that has its own condition, a scope list written as one comma-separated word, a
//! grant that any issuer's token can earn, a client or role name that a token issuer can mint
//! as well, two issuers with one `iss`, a `roles_claim` no rule reads.
//!
//! What the compiler refuses (a token condition without `[tokens]`, an unknown issuer name, an
//! HMAC or `none` algorithm, an empty or spaced scope) is not repeated here.

use super::Warning;
use crate::policy::model::{Conditions, Effect, ScopeDef};
use crate::policy::source::Seg;
use crate::Policy;

/// Claims the verifier reads for itself, and the condition to write instead.
const OWN_CONDITION: [(&str, &str); 3] = [
    ("scope", "`scope` compares the space-separated string whole, so a token with `\"a b\"` matches neither `\"a\"` nor `\"b\"`; write `scope = [...]`, which reads each scope"),
    ("scp", "write `scope = [...]`, which reads `scp` too and compares scopes one by one"),
    ("iss", "write `issuer = \"NAME\"` with the issuer's name under `[tokens.issuers]`"),
];

/// Appends the token mistakes of `policy` to `out`.
pub(super) fn token_mistakes(policy: &Policy, out: &mut Vec<Warning>) {
    let doc = &policy.doc;
    let Some(tokens) = &doc.tokens else { return };
    let src = &policy.source;
    for (i, r) in doc.rules.iter().enumerate() {
        let clauses = [("when", Some(&r.when)), ("unless", r.unless.as_ref())];
        for (clause, c) in clauses {
            let Some(c) = c else { continue };
            let at = |key: &'static str, value: &str| {
                src.locate(
                    &[
                        Seg::Key("rules"),
                        Seg::Index(i),
                        Seg::Key(clause),
                        Seg::Key(key),
                    ],
                    &[&r.name, key, value],
                )
            };
            let mut push = |code, location, message| {
                out.push(Warning {
                    code,
                    rule: Some(r.name.clone()),
                    location,
                    message,
                });
            };
            for name in c.claim.iter().flat_map(|m| m.keys()) {
                if let Some((_, instead)) = OWN_CONDITION.iter().find(|(n, _)| n == name) {
                    push(
                        "claim-with-own-condition",
                        at("claim", name),
                        format!("`claim` on `{name}`: {instead}"),
                    );
                }
            }
            for s in scopes(c).filter(|s| s.contains(',')) {
                let parts: Vec<String> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| format!("{p:?}"))
                    .collect();
                push(
                    "scope-with-comma",
                    at("scope", s),
                    format!(
                        "scope `{s}` holds a comma: tokens separate scopes with spaces, so this is one scope named `{s}`; for several write `[{}]`",
                        parts.join(", ")
                    ),
                );
            }
            // A clause that lets a request through: an allow rule's `when`, a forbid rule's
            // `unless`.
            let grants = (clause == "when") == (r.effect == Effect::Allow);
            let reads_claims = c.scope.is_some() || c.claim.is_some();
            if grants {
                let issuers = c.issuer.as_ref().map(|i| i.0.as_slice());
                for (key, names) in [("client", &c.client), ("role", &c.role)] {
                    let Some(names) = names else { continue };
                    if let Some(message) = foreign_names(doc, key, &names.0, issuers) {
                        push("identity-without-issuer", at(key, key), message);
                    }
                }
            }
            if grants && reads_claims && c.issuer.is_none() && tokens.issuers.len() > 1 {
                let names: Vec<&str> = tokens.issuers.keys().map(String::as_str).collect();
                let key = if c.scope.is_some() { "scope" } else { "claim" };
                push(
                    "token-condition-without-issuer",
                    at(key, key),
                    format!(
                        "`{key}` without `issuer` accepts a token of any of the issuers {}: each chooses the scopes and claims its tokens carry; name the issuer trusted with them",
                        names.join(", ")
                    ),
                );
            }
        }
    }
    let issuer_at = |name: &str, key: &'static str| {
        src.locate(
            &[
                Seg::Key("tokens"),
                Seg::Key("issuers"),
                Seg::Key(name),
                Seg::Key(key),
            ],
            &[name, key],
        )
    };
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (name, def) in &tokens.issuers {
        if let Some((first, _)) = seen.iter().find(|(_, iss)| *iss == def.issuer) {
            out.push(Warning {
                code: "duplicate-issuer",
                rule: None,
                location: issuer_at(name, "issuer"),
                message: format!(
                    "issuers `{first}` and `{name}` have the same `issuer` `{}`: a token is checked against `{first}` alone, so `{name}`'s keys and audiences are never used; merge them into one issuer",
                    def.issuer
                ),
            });
        } else {
            seen.push((name, &def.issuer));
        }
    }
    let reads_roles = doc
        .rules
        .iter()
        .flat_map(|r| std::iter::once(&r.when).chain(r.unless.as_ref()))
        .any(|c| c.role.is_some());
    for (name, def) in &tokens.issuers {
        if let (Some(claim), false) = (&def.roles_claim, reads_roles) {
            out.push(Warning {
                code: "unused-roles-claim",
                rule: None,
                location: issuer_at(name, "roles_claim"),
                message: format!(
                    "issuer `{name}` reads roles from `{claim}`, but no rule has a `role` condition: the roles only show in explanations; remove `roles_claim`, or add the rule that was meant to read them"
                ),
            });
        }
    }
}

/// What is wrong with a granting `client` (or `role`) condition over `names`, in a clause
/// whose `issuer` condition, if any, lists `only`: token issuers name their clients (roles)
/// themselves, so a name holds for a token of any issuer with a `client_claim`
/// (`roles_claim`) that the clause admits. That is a mistake where two such issuers could
/// both mint it, or, without `issuer`, where an API client of `[keys]` has it too.
fn foreign_names(
    doc: &crate::policy::Document,
    key: &str,
    names: &[String],
    only: Option<&[String]>,
) -> Option<String> {
    let tokens = doc.tokens.as_ref()?;
    let issuers: Vec<&str> = tokens
        .issuers
        .iter()
        .filter(|(n, _)| only.is_none_or(|o| o.contains(n)))
        .filter(|(_, d)| match key {
            "client" => d.client_claim.is_some(),
            _ => d.roles_claim.is_some(),
        })
        .map(|(n, _)| n.as_str())
        .collect();
    let of_keys = |name: &String| {
        doc.keys.as_ref().is_some_and(|k| match key {
            "client" => k.clients.contains_key(name),
            _ => k.clients.values().any(|c| c.roles.contains(name)),
        })
    };
    let shared: Vec<&String> = names.iter().filter(|n| of_keys(n)).collect();
    let claim = if key == "client" {
        "client_claim"
    } else {
        "roles_claim"
    };
    let listed = |v: &[&str]| {
        v.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if issuers.len() > 1 {
        let which = if only.is_some() { "with" } else { "without" };
        Some(format!(
            "`{key}` {which} `issuer` holds for a token of any of the issuers {} (each has a `{claim}`), and each issuer chooses the names its tokens carry; name the one issuer whose {key} this is",
            listed(&issuers)
        ))
    } else if let (Some(issuer), false, None) = (issuers.first(), shared.is_empty(), only) {
        let shared: Vec<&str> = shared.iter().map(|n| n.as_str()).collect();
        let what = if key == "client" {
            "names an API client"
        } else {
            "is a role of an API client"
        };
        Some(format!(
            "{} {what} of `[keys]`, and a token of issuer `{issuer}` whose `{claim}` says so holds it too: the issuer chooses the names its tokens carry. Add `issuer = \"{issuer}\"` if the token's {key} is meant; if the API client's is, rename it to a name `{issuer}` does not issue",
            listed(&shared),
        ))
    } else {
        None
    }
}

fn scopes(c: &Conditions) -> impl Iterator<Item = &String> {
    c.scope.iter().flat_map(|s| match s {
        ScopeDef::All(v) => v.0.iter(),
        ScopeDef::Any { any } => any.iter(),
    })
}
