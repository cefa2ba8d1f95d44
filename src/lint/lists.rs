//! Names and lists: unused lists and clients, overlapping list entries, trusted proxies that
//! a rule grants something, and rule settings (401 without authentication, report mode).

use std::collections::BTreeSet;

use ipnet::IpNet;

use super::Warning;
use crate::compile::addr::parse_net;
use crate::compile::lists::{entries, List};
use crate::error::Location;
use crate::policy::model::{Effect, IpSource, ListDef, Mode};
use crate::policy::source::Seg;
use crate::Policy;

/// The most overlaps reported one by one per list; the rest are counted in one warning.
pub(super) const MAX_OVERLAPS_SHOWN: usize = 100;

/// Lists and clients no rule uses.
pub(super) fn unused_names(policy: &Policy, lists: &[List], out: &mut Vec<Warning>) {
    let doc = &policy.doc;
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
    for l in lists {
        if !used_lists.contains(&l.name) {
            out.push(Warning {
                code: "unused-list",
                rule: None,
                location: list_location(policy, &l.name),
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
                    location: policy.source.locate(
                        &[Seg::Key("keys"), Seg::Key("clients"), Seg::Key(name)],
                        &[name],
                    ),
                    message: format!("client `{name}` is not used by any rule (by name, role or `authenticated`)"),
                });
            }
        }
    }
}

fn list_location(policy: &Policy, name: &str) -> Option<Location> {
    policy
        .source
        .locate(&[Seg::Key("lists"), Seg::Key(name)], &[name])
}

/// Where each entry of a list is written: its line in the policy, or in the list file.
fn entry_locations(policy: &Policy, list: &List) -> Vec<Option<Location>> {
    match policy.doc.lists.get(&list.name) {
        Some(ListDef::Inline(values)) => values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                policy.source.locate(
                    &[Seg::Key("lists"), Seg::Key(&list.name), Seg::Index(i)],
                    &[&list.name, v],
                )
            })
            .collect(),
        Some(ListDef::File(list_file)) => {
            let path = policy.resolve(&list_file.file);
            let shown = path.display().to_string();
            // The file was read a moment ago to build `list`; if it has changed since, the
            // warnings point at the list instead of a line.
            let text =
                crate::policy::read_limited(&path, crate::MAX_LIST_FILE_BYTES).unwrap_or_default();
            let src = crate::policy::source::Source::new(shown, text);
            let found: Vec<Location> = entries(src.text())
                .map(|(start, line, content)| src.location(start + line.find(content).unwrap_or(0)))
                .collect();
            if found.len() == list.nets.len() {
                found.into_iter().map(Some).collect()
            } else {
                vec![list_location(policy, &list.name); list.nets.len()]
            }
        }
        None => vec![None; list.nets.len()],
    }
}

/// Every entry of a list that is inside (or equal to) another entry, at its line.
pub(super) fn overlaps(policy: &Policy, lists: &[List], out: &mut Vec<Warning>) {
    for l in lists {
        let found = inside(&l.nets);
        if found.is_empty() {
            continue;
        }
        let at = entry_locations(policy, l);
        let total = found.len();
        for (k, &(inner, outer)) in found.iter().take(MAX_OVERLAPS_SHOWN).enumerate() {
            let (a, b) = (l.nets[inner], l.nets[outer]);
            let outer_at = at[outer]
                .as_ref()
                .map(|o| format!(" (line {})", o.line))
                .unwrap_or_default();
            let what = if a == b {
                format!("`{a}` repeats `{b}`{outer_at}")
            } else {
                format!("`{a}` is inside `{b}`{outer_at}")
            };
            out.push(Warning {
                code: "list-overlap",
                rule: None,
                location: at[inner].clone().or_else(|| list_location(policy, &l.name)),
                message: format!(
                    "in list `{}`, {what} [overlap {} of {total}]",
                    l.name,
                    k + 1
                ),
            });
        }
        if total > MAX_OVERLAPS_SHOWN {
            out.push(Warning {
                code: "list-overlap",
                rule: None,
                location: list_location(policy, &l.name),
                message: format!(
                    "list `{}` has {total} overlapping entries in all; {} more not shown",
                    l.name,
                    total - MAX_OVERLAPS_SHOWN
                ),
            });
        }
    }
}

/// Pairs `(inner, outer)` of indexes into `nets`: each entry inside (or equal to) an earlier
/// sorted one, paired with the smallest entry that contains it. In the order of `inner`.
pub(super) fn inside(nets: &[IpNet]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..nets.len()).collect();
    // Supernets sort before the subnets they contain; equal entries keep file order.
    order.sort_by_key(|&i| (nets[i].network(), nets[i].prefix_len(), i));
    let mut open: Vec<usize> = Vec::new();
    let mut found = Vec::new();
    for i in order {
        while let Some(&top) = open.last() {
            if nets[top].contains(&nets[i]) {
                break;
            }
            open.pop();
        }
        if let Some(&top) = open.last() {
            found.push((i, top));
        }
        open.push(i);
    }
    found.sort_unstable();
    found
}

/// Trusted proxies whose addresses a rule also grants something: a request that comes
/// through such a proxy without a forwarding header is the proxy itself to the engine.
pub(super) fn trusted_overlap(
    policy: &Policy,
    lists: &[List],
    warning: &dyn Fn(&'static str, usize, String) -> Warning,
    out: &mut Vec<Warning>,
) {
    let doc = &policy.doc;
    if doc.client_ip.source == IpSource::Peer {
        return;
    }
    let trusted: Vec<IpNet> = doc
        .client_ip
        .trusted_proxies
        .iter()
        .filter_map(|t| parse_net(t).ok())
        .collect();
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
                None => parse_net(entry).ok().into_iter().collect(),
            };
            let overlap = trusted.iter().find_map(|t| {
                nets.iter()
                    .find(|n| t.contains(&n.network()) || n.contains(&t.network()))
                    .map(|n| (t, n))
            });
            if let Some((t, n)) = overlap {
                out.push(warning(
                    "trusted-overlap",
                    i,
                    format!("grants `{entry}` (`{n}`), which overlaps the trusted proxy range `{t}`: a request through that proxy without a forwarding header is read as coming from the proxy itself"),
                ));
            }
        }
    }
}

/// Rule and policy settings: a 401 with nothing about authentication, report mode.
pub(super) fn settings(
    policy: &Policy,
    warning: &dyn Fn(&'static str, usize, String) -> Warning,
    out: &mut Vec<Warning>,
) {
    let doc = &policy.doc;
    for (i, r) in doc.rules.iter().enumerate() {
        // `forbid unless { authenticated = true }` is about credentials as much as `when`.
        let about_auth = std::iter::once(&r.when).chain(r.unless.as_ref()).any(|c| {
            c.authenticated.is_some()
                || c.client.is_some()
                || c.role.is_some()
                || c.issuer.is_some()
                || c.scope.is_some()
                || c.claim.is_some()
        });
        if r.status == Some(401) && !about_auth {
            out.push(warning("status-401-without-auth", i, "answers 401 but has no `authenticated`, `client`, `role`, `issuer`, `scope` or `claim` condition: credentials would not help the client".to_owned()));
        }
        if r.mode == Some(Mode::Report) {
            out.push(warning(
                "report-mode",
                i,
                "is in report mode: it never decides; enforce it or remove it".to_owned(),
            ));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_overlap_is_found() {
        let nets = |v: &[&str]| v.iter().map(|s| s.parse().unwrap()).collect::<Vec<IpNet>>();
        type Case<'a> = (&'a [&'a str], &'a [(usize, usize)]);
        let cases: &[Case<'_>] = &[
            (&["10.0.0.0/8", "192.0.2.0/24"], &[]),
            (&["10.1.0.0/16", "10.0.0.0/8"], &[(0, 1)]),
            (&["192.0.2.0/24", "192.0.2.0/24"], &[(1, 0)]),
            (&["::/0", "0.0.0.0/0"], &[]),
            // Nested three deep, and a sibling after a nested pair.
            (
                &[
                    "10.0.0.0/8",
                    "10.1.0.0/16",
                    "10.1.2.0/24",
                    "10.2.0.0/16",
                    "11.0.0.1/32",
                ],
                &[(1, 0), (2, 1), (3, 0)],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(inside(&nets(input)), *want, "{input:?}");
        }
    }
}
