//! The generated policy as a plain rule list that every peer translates.
//!
//! The list is read from the very policy document portcullis compiles (the files that
//! `support::write_policy` wrote), so portcullis and its peers always decide under the same
//! rules. Only the conditions the generator uses are translated; anything else stops the
//! translation with a message rather than being silently dropped.

use std::net::IpAddr;
use std::path::Path;

use portcullis::policy::model::{
    Combine, Conditions, Effect, HeaderMatcherDef, IpSource, ListDef, Mode,
};
use portcullis::Policy;

/// One rule, in policy order.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's name.
    pub name: String,
    /// `true` for an allow rule, `false` for a forbid rule.
    pub allow: bool,
    /// Conditions that must all hold.
    pub when: Conds,
    /// Conditions that, when they all hold, exempt the request.
    pub unless: Option<Conds>,
}

/// Conditions: alternatives within a field, all fields together. `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct Conds {
    /// CIDRs, lists resolved; single addresses as `/32` or `/128`.
    pub ip: Option<Vec<String>>,
    /// Path globs as written (`*` inside a segment, `**` across segments).
    pub path: Option<Vec<String>>,
    /// Upper-case methods; `GET` brings `HEAD` along, as in portcullis.
    pub method: Option<Vec<String>>,
    /// Role names.
    pub role: Option<Vec<String>>,
    /// Lower-case names of headers that must be present.
    pub present: Vec<String>,
    /// Lower-case User-Agent globs (matched against the lower-cased User-Agent).
    pub user_agent: Option<Vec<String>>,
}

/// An API client: the SHA-256 digests of its keys and its roles.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's name.
    pub name: String,
    /// Key digests.
    pub digests: Vec<[u8; 32]>,
    /// Roles.
    pub roles: Vec<String>,
}

/// The whole policy: default forbid, first-match, rules in order.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The rules, in policy order.
    pub rules: Vec<Rule>,
    /// The header that carries a key (lower case).
    pub key_header: String,
    /// Whether `Authorization: Bearer` carries a key too.
    pub bearer: bool,
    /// The API clients.
    pub clients: Vec<Client>,
}

impl Spec {
    /// Reads the policy at `path` (and its list files).
    ///
    /// Panics on anything the peers' translations do not cover.
    pub fn from_policy(path: &Path) -> Spec {
        let policy = Policy::from_path(path).expect("policy parses");
        let doc = policy.document();
        let base = path.parent().unwrap_or(Path::new("."));
        assert_eq!(doc.policy.default, Effect::Forbid, "default must be forbid");
        assert_eq!(doc.policy.combine, Combine::FirstMatch, "first-match only");
        assert_eq!(doc.policy.mode, Mode::Enforce, "enforcing policies only");
        assert_eq!(
            doc.client_ip.source,
            IpSource::Peer,
            "the peer is the client"
        );
        assert!(doc.paths.case_sensitive, "case-sensitive paths only");

        let lists = |name: &str| -> Vec<String> {
            match doc.lists.get(name).expect("known list") {
                ListDef::Inline(entries) => entries.iter().map(|e| cidr(e)).collect(),
                ListDef::File(list) => {
                    let text = std::fs::read_to_string(base.join(&list.file)).expect("list file");
                    text.lines()
                        .map(|l| l.split(['#', ';']).next().unwrap_or("").trim())
                        .filter(|l| !l.is_empty())
                        .map(cidr)
                        .collect()
                }
            }
        };
        let conds = |c: &Conditions, what: &str| -> Conds {
            assert!(
                c.host.is_none() && c.client.is_none() && c.authenticated.is_none(),
                "{what}: host, client and authenticated are not translated"
            );
            let ip = c.ip.as_ref().map(|v| {
                v.0.iter()
                    .flat_map(|e| match e.strip_prefix('@') {
                        Some(list) => lists(list),
                        None => vec![cidr(e)],
                    })
                    .collect()
            });
            let method = c.method.as_ref().map(|v| {
                let mut out: Vec<String> = v.0.iter().map(|m| m.to_ascii_uppercase()).collect();
                if out.iter().any(|m| m == "GET") && !out.iter().any(|m| m == "HEAD") {
                    out.push("HEAD".to_owned());
                }
                out
            });
            let mut present = Vec::new();
            for (name, matchers) in c.header.iter().flatten() {
                for m in &matchers.0 {
                    assert_eq!(
                        *m,
                        HeaderMatcherDef::Present,
                        "{what}: header `present` only"
                    );
                }
                present.push(name.to_ascii_lowercase());
            }
            Conds {
                ip,
                path: c.path.as_ref().map(|v| v.0.clone()),
                method,
                role: c.role.as_ref().map(|v| v.0.clone()),
                present,
                user_agent: c
                    .user_agent
                    .as_ref()
                    .map(|v| v.0.iter().map(|g| g.to_ascii_lowercase()).collect()),
            }
        };

        let rules = doc
            .rules
            .iter()
            .map(|r| {
                assert_ne!(r.mode, Some(Mode::Report), "{}: report-mode rule", r.name);
                Rule {
                    name: r.name.clone(),
                    allow: r.effect == Effect::Allow,
                    when: conds(&r.when, &r.name),
                    unless: r.unless.as_ref().map(|u| conds(u, &r.name)),
                }
            })
            .collect();

        let keys = doc.keys.as_ref();
        let clients = keys
            .map(|k| {
                k.clients
                    .iter()
                    .map(|(name, c)| Client {
                        name: name.clone(),
                        digests: c.sha256.0.iter().map(|h| digest(h)).collect(),
                        roles: c.roles.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Spec {
            rules,
            key_header: keys
                .map(|k| k.header.to_ascii_lowercase())
                .unwrap_or_else(|| "x-api-key".to_owned()),
            bearer: keys.is_none_or(|k| k.bearer),
            clients,
        }
    }

    /// The allow rules before rule `index` that may apply to a request rule `index` applies
    /// to. A peer that combines by forbid-overrides must exempt a forbid rule from them to
    /// decide as first-match does; see [`may_overlap`].
    pub fn earlier_allows_overlapping(&self, index: usize) -> Vec<usize> {
        let rule = &self.rules[index];
        (0..index)
            .filter(|&k| self.rules[k].allow && may_overlap(&self.rules[k].when, &rule.when))
            .collect()
    }
}

/// False only when no request can satisfy both `a` and `b`: their methods are disjoint, or
/// every pair of their path globs starts with literal prefixes neither of which extends the
/// other. Conservative: `true` means "may".
pub fn may_overlap(a: &Conds, b: &Conds) -> bool {
    if let (Some(x), Some(y)) = (&a.method, &b.method) {
        if !x.iter().any(|m| y.contains(m)) {
            return false;
        }
    }
    if let (Some(x), Some(y)) = (&a.path, &b.path) {
        let compatible = |g: &str, h: &str| {
            let (p, q) = (literal_prefix(g), literal_prefix(h));
            p.starts_with(q) || q.starts_with(p)
        };
        if !x.iter().any(|g| y.iter().any(|h| compatible(g, h))) {
            return false;
        }
    }
    true
}

/// The literal start of a glob, less a final `/` (so that `/a/**`, which covers `/a`, yields
/// `/a`).
fn literal_prefix(glob: &str) -> &str {
    let end = glob.find(['*', '?', '[', '{', '\\']).unwrap_or(glob.len());
    let p = &glob[..end];
    p.strip_suffix('/').unwrap_or(p)
}

/// The alternatives a path glob stands for in a glob dialect where `/a/**` does not match `/a`
/// itself: the glob, plus `/a` for a glob `/a/**`.
pub fn path_alternatives(glob: &str) -> Vec<String> {
    let mut out = vec![glob.to_owned()];
    if let Some(base) = glob.strip_suffix("/**") {
        if !base.is_empty() {
            out.push(base.to_owned());
        }
    }
    out
}

/// An address or CIDR as a CIDR.
fn cidr(entry: &str) -> String {
    if entry.contains('/') {
        return entry.to_owned();
    }
    match entry.parse::<IpAddr>().expect("address") {
        IpAddr::V4(a) => format!("{a}/32"),
        IpAddr::V6(a) => format!("{a}/128"),
    }
}

/// 64 hex digits as a digest.
fn digest(hex: &str) -> [u8; 32] {
    assert_eq!(hex.len(), 64, "digest length");
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digest");
    }
    out
}
