//! Rules that can never decide: shadowed by an earlier rule, after a catch-all, or an allow
//! rule that a forbid rule always overrides.

use std::collections::BTreeSet;

use ipnet::IpNet;

use super::Warning;
use crate::compile::lists::List;
use crate::policy::model::{
    Combine, Conditions, Effect, HeaderMatcherDef, Mode, OnUnknownClient, RuleDef,
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
        let authenticated = match (aw.authenticated, bw.authenticated) {
            (None, _) => true,
            (Some(x), Some(y)) => x == y,
            (Some(true), None) => bw.client.is_some() || bw.role.is_some(),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
