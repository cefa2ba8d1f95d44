//! Rules that can never decide: shadowed by an earlier rule, after a catch-all, or an allow
//! rule that a forbid rule always overrides.

use std::collections::BTreeSet;

use ipnet::IpNet;

use super::Warning;
use crate::compile::lists::List;
use crate::policy::model::{
    ClaimMatcherDef, Combine, Conditions, Effect, HeaderMatcherDef, Mode, OnUnknownClient,
    OneOrMany, RuleDef, ScopeDef,
};
use crate::Policy;

/// Warns about each rule that some other rule keeps from ever deciding.
pub(super) fn never_decide(
    policy: &Policy,
    lists: &[List],
    warning: &dyn Fn(&'static str, usize, String) -> Warning,
    out: &mut Vec<Warning>,
) {
    let doc = &policy.doc;
    let cx = Cx {
        lists,
        unknown_evaluated: doc.client_ip.on_unknown == OnUnknownClient::Evaluate,
        issuers: doc
            .tokens
            .iter()
            .flat_map(|t| t.issuers.keys().cloned())
            .collect(),
        keys: doc.keys.as_ref().is_some_and(|k| !k.clients.is_empty()),
    };
    for (j, b) in doc.rules.iter().enumerate() {
        for (i, a) in doc.rules.iter().enumerate() {
            let a_decides = a.mode.unwrap_or_default() == Mode::Enforce
                && a.unless.as_ref().is_none_or(Conditions::is_empty);
            if i == j || !a_decides || !cx.covers(a, b) {
                continue;
            }
            let at = warning("", i, String::new())
                .location
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            let found = match doc.policy.combine {
                Combine::FirstMatch if i < j && a.when.is_empty() => Some(("after-catch-all", format!("can never decide: rule {:?}{at} comes first and applies to every request", a.name))),
                Combine::FirstMatch if i < j => Some(("shadowed", format!("can never decide: rule {:?}{at} comes first and applies to every request this rule applies to", a.name))),
                Combine::ForbidOverrides
                    if a.effect == Effect::Forbid && b.effect == Effect::Allow =>
                {
                    Some(("never-wins", format!("can never win: forbid rule {:?}{at} applies to every request this rule applies to", a.name)))
                }
                _ => None,
            };
            if let Some((code, message)) = found {
                out.push(warning(code, j, message));
                break;
            }
        }
    }
}

struct Cx<'a> {
    lists: &'a [List],
    unknown_evaluated: bool,
    /// The names under `[tokens.issuers]`.
    issuers: Vec<String>,
    /// Whether `[keys]` names a client: otherwise only a token authenticates.
    keys: bool,
}

fn is_literal(g: &str) -> bool {
    !g.contains(['*', '?', '[', '{', '\\'])
}

/// Every path glob `b` matches is matched by `a`: exact for literal and prefix globs.
fn glob_covers(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a == "/**" || a == "**" {
        return b.starts_with('/');
    }
    if let Some(prefix) = a.strip_suffix("/**") {
        if !is_literal(prefix) {
            return false;
        }
        let b_literal: &str = b.split(['*', '?', '[', '{', '\\']).next().unwrap_or("");
        let within = format!("{prefix}/");
        return b == prefix || b_literal.starts_with(&within);
    }
    false
}

fn methods(v: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for m in v {
        let m = m.to_ascii_uppercase();
        out.extend(crate::engine::methods::covered(&m).map(str::to_owned));
    }
    out
}

impl Cx<'_> {
    fn nets(&self, alts: &[String]) -> Option<Vec<IpNet>> {
        let mut out = Vec::new();
        for a in alts {
            match a.strip_prefix('@') {
                Some(name) => out.extend(
                    self.lists
                        .iter()
                        .find(|l| l.name == name)?
                        .nets
                        .iter()
                        .copied(),
                ),
                None => out.push(crate::compile::addr::parse_net(a).ok()?),
            }
            // Beyond this, say "not covered": never a false alarm, only a missed one.
            if out.len() > 1_000 {
                return None;
            }
        }
        Some(out)
    }

    /// Every request `b` applies to, `a` applies to as well (looking at `when` only).
    fn covers(&self, a: &RuleDef, b: &RuleDef) -> bool {
        let (aw, bw) = (&a.when, &b.when);
        // A repeated header is read "any value" in a forbid rule's `when` and "every value" in
        // an allow rule's; "every" implies "any", not the other way round.
        let polarity_ok = a.effect == Effect::Forbid || b.effect == Effect::Allow;
        let subset =
            |x: &Option<crate::policy::model::OneOrMany<String>>,
             y: &Option<crate::policy::model::OneOrMany<String>>| match (x, y) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(x), Some(y)) => y.0.iter().all(|v| x.0.contains(v)),
            };
        // An unknown client (with `on_unknown = "evaluate"`) is read as matching in a forbid
        // rule's `when` and as not matching in an allow rule's: the same asymmetry as headers.
        let ip_polarity_ok = polarity_ok || !self.unknown_evaluated;
        let ip = match (&aw.ip, &bw.ip) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(_)) if !ip_polarity_ok => false,
            (Some(x), Some(y)) => match (self.nets(&x.0), self.nets(&y.0)) {
                (Some(xs), Some(ys)) => ys.iter().all(|n| xs.iter().any(|o| o.contains(n))),
                _ => false,
            },
        };
        let path = match (&aw.path, &bw.path) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) => y.0.iter().all(|g| x.0.iter().any(|o| glob_covers(o, g))),
        };
        let method = match (&aw.method, &bw.method) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) => methods(&y.0).is_subset(&methods(&x.0)),
        };
        let header = match (&aw.header, &bw.header) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) => {
                polarity_ok
                    && x.iter().all(|(name, ms)| {
                        y.iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                            .is_some_and(|(_, bm)| {
                                bm.0.iter().all(|m| ms.0.contains(m))
                                    && !bm.0.contains(&HeaderMatcherDef::Absent)
                            })
                    })
            }
        };
        let user_agent =
            aw.user_agent.is_none() || (polarity_ok && subset(&aw.user_agent, &bw.user_agent));
        // A `client`, `role`, `issuer`, `scope` or `claim` condition holds only for a known
        // key or a token that verified, so it implies `authenticated = true`.
        let credentials = bw.client.is_some()
            || bw.role.is_some()
            || bw.issuer.is_some()
            || bw.scope.is_some()
            || bw.claim.is_some();
        // Every verified token is of some issuer: naming them all only asks for a token.
        let token_only = bw.issuer.is_some()
            || bw.scope.is_some()
            || bw.claim.is_some()
            || !self.keys && (bw.authenticated == Some(true) || credentials);
        let issuer = match (&aw.issuer, &bw.issuer) {
            (Some(x), None) => token_only && self.issuers.iter().all(|i| x.0.contains(i)),
            _ => subset(&aw.issuer, &bw.issuer),
        };
        let authenticated = match (aw.authenticated, bw.authenticated) {
            (None, _) => true,
            (Some(x), Some(y)) => x == y,
            (Some(true), None) => credentials,
            (Some(false), None) => false,
        };
        ip && path
            && method
            && header
            && user_agent
            && subset(&aw.host, &bw.host)
            && subset(&aw.client, &bw.client)
            && subset(&aw.role, &bw.role)
            && authenticated
            && issuer
            && scope_covers(aw.scope.as_ref(), bw.scope.as_ref())
            && claims_cover(aw.claim.as_ref(), bw.claim.as_ref())
    }
}

/// Every token `b`'s scope condition accepts, `a`'s accepts too. Token conditions read no
/// polarity (without a verified token none holds, in any clause), so this is plain set logic.
fn scope_covers(a: Option<&ScopeDef>, b: Option<&ScopeDef>) -> bool {
    let (a, b) = match (a, b) {
        (None, _) => return true,
        (Some(_), None) => return false,
        (Some(a), Some(b)) => (a, b),
    };
    match (a, b) {
        // All of A, given all of B: A within B.
        (ScopeDef::All(OneOrMany(a)), ScopeDef::All(OneOrMany(b))) => {
            a.iter().all(|s| b.contains(s))
        }
        // All of A, given one of B: whichever one it is, it is all of A.
        (ScopeDef::All(OneOrMany(a)), ScopeDef::Any { any: b }) => {
            !b.is_empty() && a.iter().all(|s| b.iter().all(|x| x == s))
        }
        // One of A, given all of B: B holds one of A.
        (ScopeDef::Any { any: a }, ScopeDef::All(OneOrMany(b))) => b.iter().any(|s| a.contains(s)),
        // One of A, given one of B: each of B is one of A.
        (ScopeDef::Any { any: a }, ScopeDef::Any { any: b }) => b.iter().all(|s| a.contains(s)),
    }
}

/// Every token `b`'s claim conditions accept, `a`'s accept too: each claim `a` names, `b`
/// names as well, with values among `a`'s (a `*` glob takes any string). Exact for equal
/// values; other globs are compared as written, so at worst a shadowing goes unreported.
fn claims_cover(
    a: Option<&std::collections::BTreeMap<String, OneOrMany<ClaimMatcherDef>>>,
    b: Option<&std::collections::BTreeMap<String, OneOrMany<ClaimMatcherDef>>>,
) -> bool {
    let Some(a) = a else { return true };
    let Some(b) = b else { return false };
    a.iter().all(|(name, am)| {
        b.get(name).is_some_and(|bm| {
            bm.0.iter().all(|m| {
                am.0.contains(m)
                    || matches!(m, ClaimMatcherDef::Text(_) | ClaimMatcherDef::Glob(_))
                        && am
                            .0
                            .iter()
                            .any(|x| matches!(x, ClaimMatcherDef::Glob(g) if g == "*" || g == "**"))
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(written: &str) -> ScopeDef {
        match written.strip_prefix("any:") {
            Some(any) => ScopeDef::Any {
                any: any.split(',').map(str::to_owned).collect(),
            },
            None => ScopeDef::All(OneOrMany(written.split(',').map(str::to_owned).collect())),
        }
    }

    #[test]
    fn scope_coverage_follows_all_and_any() {
        let cases = [
            ("x", "x,y", true),
            ("x,y", "x", false),
            ("x,y", "y,x", true),
            ("x", "any:x", true),
            ("x", "any:x,y", false),
            ("x,y", "any:x", false),
            ("any:x,y", "x", true),
            ("any:x,y", "z,y", true),
            ("any:x,y", "z", false),
            ("any:x,y,z", "any:x,y", true),
            ("any:x,y", "any:x,z", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                scope_covers(Some(&scope(a)), Some(&scope(b))),
                want,
                "{a} covers {b}"
            );
        }
        assert!(scope_covers(None, Some(&scope("x"))));
        assert!(!scope_covers(Some(&scope("x")), None));
    }

    #[test]
    fn claim_coverage_needs_each_claim_with_fewer_values() {
        use std::collections::BTreeMap;
        use ClaimMatcherDef::{Bool, Glob, Number, Text};
        let claims = |c: &[(&str, Vec<ClaimMatcherDef>)]| -> BTreeMap<_, _> {
            c.iter()
                .map(|(n, m)| ((*n).to_owned(), OneOrMany(m.clone())))
                .collect()
        };
        let t = |s: &str| Text(s.to_owned());
        let g = |s: &str| Glob(s.to_owned());
        let cases = [
            (
                vec![("tenant", vec![t("a"), t("b")])],
                vec![("tenant", vec![t("a")])],
                true,
            ),
            (
                vec![("tenant", vec![t("a")])],
                vec![("tenant", vec![t("a"), t("b")])],
                false,
            ),
            (
                vec![("tenant", vec![t("a")])],
                vec![("tenant", vec![t("a")]), ("x", vec![Bool(true)])],
                true,
            ),
            (
                vec![("tenant", vec![t("a")]), ("x", vec![Bool(true)])],
                vec![("tenant", vec![t("a")])],
                false,
            ),
            (
                vec![("tenant", vec![t("a")])],
                vec![("team", vec![t("a")])],
                false,
            ),
            (
                vec![("n", vec![Number(1.0)])],
                vec![("n", vec![Number(1.0)])],
                true,
            ),
            (
                vec![("n", vec![Number(1.0)])],
                vec![("n", vec![t("1")])],
                false,
            ),
            (
                vec![("e", vec![g("*")])],
                vec![("e", vec![t("x"), g("*@acme.com")])],
                true,
            ),
            (
                vec![("e", vec![g("*")])],
                vec![("e", vec![Bool(true)])],
                false,
            ),
            (
                vec![("e", vec![g("*@acme.com")])],
                vec![("e", vec![t("ann@acme.com")])],
                false,
            ),
        ];
        for (a, b, want) in cases {
            let (a, b) = (claims(&a), claims(&b));
            assert_eq!(claims_cover(Some(&a), Some(&b)), want, "{a:?} covers {b:?}");
        }
    }

    #[test]
    fn glob_coverage_is_exact_for_literals_and_prefixes() {
        let cases = [
            ("/api/**", "/api/v1/*", true),
            ("/api/**", "/api", true),
            ("/api/**", "/api/**", true),
            ("/api/**", "/apix/**", false),
            ("/api/**", "/ap*/x", false),
            ("/**", "/anything", true),
            ("/a", "/a", true),
            ("/a", "/a/b", false),
            ("/api/*", "/api/x", false),
            ("/a*/**", "/ab/c", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(glob_covers(a, b), want, "{a} covers {b}");
        }
    }
}
