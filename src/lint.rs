//! Lint: things a valid policy says that are probably not what its author meant.
//!
//! Every warning names the rule (or list, or client) and where it is written. The shadowing
//! checks are exact for CIDR containment and for literal and prefix globs, and conservative
//! everywhere else: they never warn about a rule that can decide.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::compile::lists;
use crate::error::{Location, PolicyError};
use crate::policy::model::{Combine, Conditions, Effect, HeaderMatcherDef, Mode, RuleDef};
use crate::policy::source::Seg;
use crate::{Engine, Policy};

/// One lint warning.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// A short, stable identifier: `shadowed`, `after-catch-all`, `never-wins`, `unused-list`,
    /// `unused-client`, `list-overlap`, `trusted-overlap`, `status-401-without-auth`,
    /// `report-mode`. (Globs that no accepted request can match are compile errors, not
    /// warnings.)
    pub code: &'static str,
    /// The rule it is about, if any.
    pub rule: Option<String>,
    /// Where.
    pub location: Option<Location>,
    /// What, in a sentence.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "warning[{}]: ", self.code)?;
        if let Some(rule) = &self.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Lints a policy that compiles (`engine` is its compiled form).
///
/// ```
/// use portcullis::{lint::lint, Policy};
///
/// let policy = Policy::from_toml(r#"
///     [policy]
///     default = "forbid"
///     [[rules]]
///     name = "api"
///     effect = "allow"
///     when = { path = "/api/**" }
///     [[rules]]
///     name = "api-v2"
///     effect = "forbid"
///     when = { path = "/api/v2/**", method = "DELETE" }
/// "#)?;
/// let warnings = lint(&policy, &policy.compile()?)?;
/// assert_eq!(warnings[0].code, "shadowed");
/// assert_eq!(warnings[0].rule.as_deref(), Some("api-v2"));
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
pub fn lint(policy: &Policy, engine: &Engine) -> Result<Vec<Warning>, PolicyError> {
    let doc = &policy.doc;
    let (lists, _warnings) = lists::load(policy)?;
    let cx = Cx {
        lists: &lists,
        unknown_evaluated: doc.client_ip.on_unknown
            == crate::policy::model::OnUnknownClient::Evaluate,
    };
    let mut out = Vec::new();
    let loc = |i: usize| engine.rules().get(i).and_then(|r| r.location().cloned());
    let warn = |out: &mut Vec<Warning>, code, i: usize, message: String| {
        out.push(Warning {
            code,
            rule: doc.rules.get(i).map(|r| r.name.clone()),
            location: loc(i),
            message,
        });
    };

    // Rules that can never decide.
    for (j, b) in doc.rules.iter().enumerate() {
        for (i, a) in doc.rules.iter().enumerate() {
            let a_decides = a.mode.unwrap_or_default() == Mode::Enforce
                && a.unless.as_ref().is_none_or(Conditions::is_empty);
            if i == j || !a_decides || !cx.covers(a, b) {
                continue;
            }
            let at = loc(i).map(|l| format!(" ({l})")).unwrap_or_default();
            match doc.policy.combine {
                Combine::FirstMatch if i < j && a.when.is_empty() => {
                    warn(&mut out, "after-catch-all", j, format!("can never decide: rule {:?}{at} comes first and applies to every request", a.name));
                    break;
                }
                Combine::FirstMatch if i < j => {
                    warn(&mut out, "shadowed", j, format!("can never decide: rule {:?}{at} comes first and applies to every request this rule applies to", a.name));
                    break;
                }
                Combine::ForbidOverrides
                    if a.effect == Effect::Forbid && b.effect == Effect::Allow =>
                {
                    warn(&mut out, "never-wins", j, format!("can never win: forbid rule {:?}{at} applies to every request this rule applies to", a.name));
                    break;
                }
                _ => {}
            }
        }
    }

    // Names nothing uses.
    let mut used_lists = BTreeSet::new();
    let mut used_clients = BTreeSet::new();
    let mut used_roles = BTreeSet::new();
    for r in &doc.rules {
        for c in std::iter::once(&r.when).chain(r.unless.as_ref()) {
            for ip in c.ip.iter().flat_map(|v| &v.0) {
                if let Some(name) = ip.strip_prefix('@') {
                    used_lists.insert(name.to_owned());
                }
            }
            used_clients.extend(c.client.iter().flat_map(|v| v.0.iter().cloned()));
            used_roles.extend(c.role.iter().flat_map(|v| v.0.iter().cloned()));
            if c.authenticated.is_some() {
                used_roles.insert(String::new());
            }
        }
    }
    for l in &lists {
        if !used_lists.contains(&l.name) {
            out.push(Warning {
                code: "unused-list",
                rule: None,
                location: policy
                    .source
                    .locate(&[Seg::Key("lists"), Seg::Key(&l.name)], &[&l.name]),
                message: format!("list `{}` is not used by any rule", l.name),
            });
        }
    }
    if let Some(keys) = &doc.keys {
        for (name, client) in &keys.clients {
            let by_role =
                client.roles.iter().any(|r| used_roles.contains(r)) || used_roles.contains("");
            if !used_clients.contains(name) && !by_role {
                out.push(Warning {
                    code: "unused-client",
                    rule: None,
                    location: policy.source.locate(&[Seg::Key("keys"), Seg::Key("clients"), Seg::Key(name)], &[name]),
                    message: format!("client `{name}` is not used by any rule (by name, role or `authenticated`)"),
                });
            }
        }
    }

    // Overlapping entries in one list.
    for l in &lists {
        if let Some((inner, outer)) = first_overlap(&l.nets) {
            let what = if inner == outer {
                format!("`{inner}` is listed twice")
            } else {
                format!("`{inner}` is inside `{outer}`")
            };
            out.push(Warning {
                code: "list-overlap",
                rule: None,
                location: policy
                    .source
                    .locate(&[Seg::Key("lists"), Seg::Key(&l.name)], &[&l.name]),
                message: format!("in list `{}`, {what}", l.name),
            });
        }
    }

    // Trusted proxies whose addresses a rule also grants something: a request that comes
    // through such a proxy without a forwarding header is the proxy itself to the engine.
    let trusted: Vec<IpNet> = if doc.client_ip.source == crate::policy::model::IpSource::Peer {
        Vec::new()
    } else {
        doc.client_ip
            .trusted_proxies
            .iter()
            .filter_map(|t| crate::compile::addr::parse_net(t).ok())
            .collect()
    };
    for (i, r) in doc.rules.iter().enumerate() {
        // An allow rule's `when`, or a forbid rule's `unless`, grants to the addresses in it.
        let granting = match r.effect {
            Effect::Allow => Some(&r.when),
            Effect::Forbid => r.unless.as_ref(),
        };
        for entry in granting
            .and_then(|c| c.ip.as_ref())
            .iter()
            .flat_map(|v| &v.0)
        {
            let nets: Vec<IpNet> = match entry.strip_prefix('@') {
                Some(name) => lists
                    .iter()
                    .find(|l| l.name == name)
                    .map(|l| l.nets.clone())
                    .unwrap_or_default(),
                None => crate::compile::addr::parse_net(entry)
                    .ok()
                    .into_iter()
                    .collect(),
            };
            let overlap = trusted.iter().find_map(|t| {
                nets.iter()
                    .find(|n| t.contains(&n.network()) || n.contains(&t.network()))
                    .map(|n| (t, n))
            });
            if let Some((t, n)) = overlap {
                warn(
                    &mut out,
                    "trusted-overlap",
                    i,
                    format!("grants `{entry}` (`{n}`), which overlaps the trusted proxy range `{t}`: a request through that proxy without a forwarding header is read as coming from the proxy itself"),
                );
            }
        }
    }

    for (i, r) in doc.rules.iter().enumerate() {
        // 401 without anything about authentication.
        let about_auth =
            r.when.authenticated.is_some() || r.when.client.is_some() || r.when.role.is_some();
        if r.status == Some(401) && !about_auth {
            warn(&mut out, "status-401-without-auth", i, "answers 401 but has no `authenticated`, `client` or `role` condition: a key would not help the client".to_owned());
        }
        if r.mode == Some(Mode::Report) {
            warn(
                &mut out,
                "report-mode",
                i,
                "is in report mode: it never decides; enforce it or remove it".to_owned(),
            );
        }
    }
    if doc.policy.mode == Mode::Report {
        out.push(Warning {
            code: "report-mode",
            rule: None,
            location: policy
                .source
                .locate(&[Seg::Key("policy"), Seg::Key("mode")], &["mode"]),
            message: "the whole policy is in report mode: nothing is enforced".to_owned(),
        });
    }
    Ok(out)
}

/// The first entry of `nets` that is inside (or equal to) another, with that other.
fn first_overlap(nets: &[IpNet]) -> Option<(IpNet, IpNet)> {
    let mut sorted: Vec<IpNet> = nets.to_vec();
    // Supernets sort before the subnets they contain.
    sorted.sort_by_key(|n| (n.network(), n.prefix_len()));
    let mut outer: Option<IpNet> = None;
    for n in sorted {
        match outer {
            Some(o) if o.contains(&n) => return Some((n, o)),
            _ => outer = Some(n),
        }
    }
    None
}

struct Cx<'a> {
    lists: &'a [lists::List],
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

    #[test]
    fn overlaps_are_found() {
        let nets = |v: &[&str]| v.iter().map(|s| s.parse().unwrap()).collect::<Vec<IpNet>>();
        assert_eq!(first_overlap(&nets(&["10.0.0.0/8", "192.0.2.0/24"])), None);
        assert!(first_overlap(&nets(&["10.1.0.0/16", "10.0.0.0/8"])).is_some());
        assert!(first_overlap(&nets(&["192.0.2.0/24", "192.0.2.0/24"])).is_some());
        assert_eq!(first_overlap(&nets(&["::/0", "0.0.0.0/0"])), None);
    }
}
