//! Candidate values for each request attribute, read off the policies: every CIDR's edges
//! and an inside point, instances of each glob and near misses, each method, host, header
//! value and key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::Policy;

/// The most entries of one list whose edges are tried; a longer list is sampled evenly.
pub(super) const MAX_NETS_PER_LIST: usize = 64;

/// The most alternatives one glob's braces expand to.
const MAX_EXPANSIONS: usize = 16;

/// Addresses at and around the edges of `net`, and one inside.
pub(super) fn edges(net: &IpNet, out: &mut BTreeSet<IpAddr>) {
    // Both families as integers; a value past the family's last address names none.
    let (lo, hi, address): (u128, u128, fn(u128) -> Option<IpAddr>) = match net {
        IpNet::V4(n) => (
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
            |v| u32::try_from(v).ok().map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        ),
        IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast()), |v| {
            Some(IpAddr::V6(Ipv6Addr::from(v)))
        }),
    };
    let mid = lo + (hi - lo) / 2;
    let around = [
        Some(lo),
        Some(hi),
        Some(mid),
        lo.checked_sub(1),
        hi.checked_add(1),
    ];
    out.extend(around.into_iter().flatten().filter_map(address));
}

/// At most `max` of `nets`, evenly spread.
pub(super) fn sample(nets: &[IpNet], max: usize) -> impl Iterator<Item = &IpNet> {
    let step = nets.len().div_ceil(max.max(1)).max(1);
    nets.iter().step_by(step)
}

/// `{a,b}` alternatives expanded (the first level of nesting at a time).
fn expand(glob: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_EXPANSIONS {
        return;
    }
    let bytes = glob.as_bytes();
    let mut i = 0;
    let mut open = None;
    let mut depth = 0usize;
    let mut commas = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' => {
                // A class: skip to its end (`]` right after `[` or `[!` is a member).
                let mut j = i + 1;
                if bytes.get(j) == Some(&b'!') {
                    j += 1;
                }
                j += 1;
                while j < bytes.len() && bytes[j] != b']' {
                    j += 1;
                }
                i = j;
            }
            b'{' => {
                if depth == 0 {
                    open = Some(i);
                    commas.clear();
                }
                depth += 1;
            }
            b',' if depth == 1 => commas.push(i),
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    if let Some(o) = open {
                        let mut start = o + 1;
                        for end in commas.iter().copied().chain([i]) {
                            let alt =
                                format!("{}{}{}", &glob[..o], &glob[start..end], &glob[i + 1..]);
                            expand(&alt, out);
                            start = end + 1;
                        }
                        return;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push(glob.to_owned());
}

/// One instance of a brace-free glob: `**` becomes `deep`, `*` becomes `star`, `?` and each
/// class one member.
fn fill(glob: &str, star: &str, deep: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if let Some(&c) = chars.get(i + 1) {
                    out.push(c);
                }
                i += 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push_str(deep);
                i += 2;
            }
            '*' => {
                out.push_str(star);
                i += 1;
            }
            '?' => {
                out.push('x');
                i += 1;
            }
            '[' => {
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'!');
                if negated {
                    j += 1;
                }
                let start = j;
                j += 1;
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                let members: Vec<char> =
                    chars.get(start..j.min(chars.len())).unwrap_or(&[]).to_vec();
                let pick = if negated {
                    ['x', 'z', 'q', '0', '_']
                        .into_iter()
                        .find(|c| !class_has(&members, *c))
                        .unwrap_or('~')
                } else {
                    members.first().copied().unwrap_or('x')
                };
                out.push(pick);
                i = j + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn class_has(members: &[char], c: char) -> bool {
    let mut i = 0;
    while i < members.len() {
        if members.get(i + 1) == Some(&'-') && i + 2 < members.len() {
            if (members[i]..=members[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if members[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// Values that match `glob` and values just missing it.
pub(super) fn glob_witnesses(glob: &str, out: &mut BTreeSet<String>) {
    let mut alts = Vec::new();
    expand(glob, &mut alts);
    for alt in alts {
        // Beside the literal text before the first wildcard: `/admin` and `/adminx` for
        // `/admin/**`.
        let literal = alt.split(['*', '?', '[', '\\']).next().unwrap_or("");
        let stem = literal.trim_end_matches('/');
        if !stem.is_empty() {
            out.insert(stem.to_owned());
            out.insert(format!("{stem}x"));
        }
        for (star, deep) in [("", ""), ("x", "x"), ("xy", "x/y")] {
            let v = fill(&alt, star, deep);
            let mut near = vec![format!("{v}x"), format!("{v}/"), format!("x{v}")];
            if let Some((head, _)) = v.rsplit_once('/') {
                near.push(if head.is_empty() {
                    "/".into()
                } else {
                    head.to_owned()
                });
            }
            if v.len() > 1 {
                near.push(v[..v.len() - v.chars().last().map_or(1, char::len_utf8)].to_owned());
            }
            near.push(swap_case(&v));
            out.insert(v);
            out.extend(near);
        }
    }
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

/// A path as a request target: characters a target cannot hold raw are percent-encoded.
pub(super) fn as_target(path: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push(b'/');
    }
    for &b in path.as_bytes() {
        if b <= b' ' || matches!(b, b'%' | b'?' | b'#' | 0x7f) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// Both policies with a stand-in key for each digest, and the label of each stand-in.
pub(super) fn with_stand_in_keys(
    policies: [&Policy; 2],
) -> ([Policy; 2], BTreeMap<String, String>) {
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let out = policies.map(|p| {
        let mut p = p.clone();
        if let Some(keys) = &mut p.doc.keys {
            for (name, client) in &mut keys.clients {
                for d in &mut client.sha256.0 {
                    let key = format!("portcullis-diff-stand-in:{}", d.to_ascii_lowercase());
                    let names = labels.entry(key.clone()).or_default();
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                    *d = crate::hash_key(key.as_bytes());
                }
            }
        }
        p
    });
    let labels = labels
        .into_iter()
        .map(|(k, names)| (k, format!("<key of client {}>", names.join(" / "))))
        .collect();
    (out, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_give_matches_and_near_misses() {
        let mut out = BTreeSet::new();
        glob_witnesses("/api/v{1,2}/*", &mut out);
        for want in [
            "/api/v1/x",
            "/api/v2/x",
            "/api/v1/",
            "/api/v1/xx",
            "/api/v1",
        ] {
            assert!(out.contains(want), "{want}: {out:?}");
        }
        let mut out = BTreeSet::new();
        glob_witnesses("/x/[!a]", &mut out);
        assert!(out.contains("/x/x"), "{out:?}");
        let mut out = BTreeSet::new();
        glob_witnesses("/admin/**", &mut out);
        for want in ["/admin/", "/admin/x", "/admin/x/y", "/admin", "/adminx"] {
            assert!(out.contains(want), "{want}: {out:?}");
        }
    }

    #[test]
    fn edges_surround_the_range() {
        let mut out = BTreeSet::new();
        edges(&"10.0.0.0/8".parse().unwrap(), &mut out);
        for want in ["9.255.255.255", "10.0.0.0", "10.255.255.255", "11.0.0.0"] {
            assert!(out.contains(&want.parse::<IpAddr>().unwrap()), "{want}");
        }
        assert_eq!(as_target("a b%"), b"/a%20b%25");
    }
}
