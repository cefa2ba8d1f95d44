//! What changes between two policies, without any log: witness requests generated from both
//! policies, decided by both, and every change of answer grouped by the pair of outcomes.
//!
//! The witnesses are read off the policies: each CIDR's edges and a point inside (of every
//! list, up to 64 entries a list, evenly spread), through each trusted proxy with and without
//! a forwarded header; for each glob, values that match and values just missing it; each
//! method named and the common ones; each host, User-Agent and header value; no key, an
//! unknown key and a key of each client (keys are known only as digests, so both policies are
//! compiled with a stand-in key per digest: a digest moved from one client to another is a
//! change the diff sees); and, with `[tokens]`, no token, an expired one and tokens for each
//! combination of the issuers, scopes, roles, clients and claim values (with near misses) the
//! token conditions read. Both engines trust the test harness's key for this (no key set is
//! read or fetched), so a change of an issuer's `jwks` or `algorithms` is not seen; a change of
//! its `issuer` or `audiences` is.
//!
//! Values that every condition of both policies treats alike are interchangeable; the
//! engines themselves sort them (see `probe.rs`), and the diff tries every combination of
//! the remaining classes when there are at most [`DiffOptions::budget`], and an even sample
//! otherwise ([`DiffReport::exhaustive`] says which). Header regexes are tried with values
//! read off the other conditions only.

mod candidates;
mod probe;
mod report;
#[cfg(feature = "tokens")]
mod tokens;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::compile::lists;
use crate::policy::model::{HeaderMatcherDef, IpSource};
use crate::replay::Outcome;
use crate::{Engine, Policy, PolicyError, Request};

use candidates::{as_target, edges, glob_witnesses, sample, with_stand_in_keys, MAX_NETS_PER_LIST};
use probe::Probe;
use report::witness;
pub use report::{DiffGroup, DiffReport, Witness};

/// How to diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOptions {
    /// The most witness requests tried; beyond it, the combinations are sampled evenly.
    pub budget: u64,
    /// How many examples each change keeps (the smallest first).
    pub examples: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            budget: 2_000_000,
            examples: 3,
        }
    }
}

/// A request attribute the witnesses vary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    Addr,
    Path,
    Method,
    /// A request header, by lowercase name (`host`, `user-agent`, the key header, ...).
    Header(String),
}

/// One value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Addr {
        peer: IpAddr,
        forwarded: Option<(&'static str, String)>,
    },
    Path(Vec<u8>),
    /// A method, and the method an override header asks for.
    Method(String, Option<String>),
    /// A header, by lowercase name, sent once per value (none: absent).
    Header(String, Vec<String>),
}

const DEFAULT_PEER: &str = "198.51.100.77";
/// Witnesses decided by one engine before the other takes its turn.
const CHUNK: u64 = 4096;
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

impl Value {
    fn apply(&self, r: Request) -> Request {
        match self {
            Value::Addr { peer, forwarded } => {
                let r = r.peer(*peer);
                match forwarded {
                    Some((name, v)) => r.header(*name, v.clone()),
                    None => r,
                }
            }
            Value::Method(_, Some(m)) => r.header("x-http-method-override", m.clone()),
            Value::Path(_) | Value::Method(_, None) => r,
            Value::Header(name, values) => values
                .iter()
                .fold(r, |r, v| r.header(name.clone(), v.clone())),
        }
    }

    fn size(&self) -> usize {
        match self {
            Value::Addr { forwarded, .. } => usize::from(forwarded.is_some()),
            Value::Path(p) => p.len(),
            Value::Method(m, o) => usize::from(m != "GET") + 2 * usize::from(o.is_some()),
            Value::Header(_, vs) => vs.iter().map(|v| 1 + v.len()).sum(),
        }
    }
}

/// One request from one value per attribute.
fn build(values: &[&Value]) -> Request {
    let method = values.iter().find_map(|v| match v {
        Value::Method(m, _) => Some(m.clone()),
        _ => None,
    });
    let target = values.iter().find_map(|v| match v {
        Value::Path(p) => Some(p.clone()),
        _ => None,
    });
    let peer: IpAddr = DEFAULT_PEER
        .parse()
        .unwrap_or(IpAddr::from([198, 51, 100, 77]));
    let mut r = Request::new(
        method.unwrap_or_else(|| "GET".into()),
        target.unwrap_or_else(|| b"/".to_vec()),
    )
    .peer(peer);
    for v in values {
        r = v.apply(r);
    }
    r
}

/// The candidate values of every attribute either policy reads.
fn candidates(
    policies: &[Policy; 2],
    engines: &[Engine; 2],
    keys: &BTreeMap<String, String>,
) -> Result<BTreeMap<Dim, Vec<Value>>, PolicyError> {
    let mut nets = Vec::new();
    let mut paths = BTreeSet::from(["/".to_owned(), "/portcullis-diff-elsewhere".to_owned()]);
    let mut methods: BTreeSet<String> = METHODS.iter().map(|m| (*m).to_owned()).collect();
    let mut headers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut forwarding: Vec<(&'static str, Vec<IpNet>)> = Vec::new();
    for p in policies {
        for l in lists::load(p)?.0 {
            nets.extend(sample(&l.nets, MAX_NETS_PER_LIST).copied());
        }
        let doc = &p.doc;
        let trusted: Vec<IpNet> = doc
            .client_ip
            .trusted_proxies
            .iter()
            .filter_map(|t| crate::compile::addr::parse_net(t).ok())
            .collect();
        nets.extend(trusted.iter().copied());
        let header = match doc.client_ip.source {
            IpSource::Peer => None,
            IpSource::XForwardedFor => Some("x-forwarded-for"),
            IpSource::Forwarded => Some("forwarded"),
            IpSource::XRealIp => Some("x-real-ip"),
        };
        if let Some(h) = header {
            forwarding.push((h, trusted));
        }
        for r in &doc.rules {
            for c in std::iter::once(&r.when).chain(r.unless.as_ref()) {
                for ip in c.ip.iter().flat_map(|v| &v.0) {
                    if !ip.starts_with('@') {
                        nets.extend(crate::compile::addr::parse_net(ip).ok());
                    }
                }
                for g in c.path.iter().flat_map(|v| &v.0) {
                    glob_witnesses(g, &mut paths);
                }
                for m in c.method.iter().flat_map(|v| &v.0) {
                    methods.insert(m.clone());
                    methods.insert(m.to_ascii_uppercase());
                }
                for g in c.host.iter().flat_map(|v| &v.0) {
                    glob_witnesses(g, set(&mut headers, "host"));
                }
                for g in c.user_agent.iter().flat_map(|v| &v.0) {
                    glob_witnesses(g, set(&mut headers, "user-agent"));
                }
                for (name, ms) in c.header.iter().flatten() {
                    let values = set(&mut headers, name);
                    for m in &ms.0 {
                        match m {
                            HeaderMatcherDef::Exact(v) => {
                                values.insert(v.clone());
                            }
                            HeaderMatcherDef::Glob(g) => glob_witnesses(g, values),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    // Hosts without the leading `/` a path glob's instances have.
    if let Some(hosts) = headers.get_mut("host") {
        *hosts = hosts
            .iter()
            .map(|h| h.trim_start_matches('/').to_ascii_lowercase())
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .collect();
        hosts.insert("portcullis-diff.example".into());
    }
    if let Some(uas) = headers.get_mut("user-agent") {
        uas.insert("portcullis-diff/1.0".into());
    }
    for e in engines {
        if let Some(h) = e.key_header() {
            let set = headers.entry(h.to_ascii_lowercase()).or_default();
            set.insert("portcullis-diff-unknown-key".into());
            set.extend(keys.keys().cloned());
        }
    }
    let mut peers = BTreeSet::new();
    peers.insert(
        DEFAULT_PEER
            .parse()
            .unwrap_or(IpAddr::from([198, 51, 100, 77])),
    );
    peers.insert(
        "2001:db8:ffff::77"
            .parse()
            .unwrap_or(IpAddr::from([0u16; 8])),
    );
    for n in &nets {
        edges(n, &mut peers);
    }
    let mut addrs: Vec<Value> = peers
        .iter()
        .map(|&peer| Value::Addr {
            peer,
            forwarded: None,
        })
        .collect();
    for (header, trusted) in &forwarding {
        for proxy in trusted.iter().map(IpNet::network) {
            for &client in &peers {
                let v = match (*header, client) {
                    ("forwarded", IpAddr::V6(c)) => format!("for=\"[{c}]\""),
                    ("forwarded", c) => format!("for={c}"),
                    (_, c) => c.to_string(),
                };
                addrs.push(Value::Addr {
                    peer: proxy,
                    forwarded: Some((header, v)),
                });
            }
            addrs.push(Value::Addr {
                peer: proxy,
                forwarded: Some((header, "unknown, nonsense".into())),
            });
        }
    }
    let mut out = BTreeMap::new();
    out.insert(Dim::Addr, addrs);
    out.insert(
        Dim::Path,
        paths.iter().map(|p| Value::Path(as_target(p))).collect(),
    );
    // A method override makes a request two readings, allowed only if both are.
    let mut method_values: Vec<Value> = methods
        .iter()
        .map(|m| Value::Method(m.clone(), None))
        .collect();
    for m in &methods {
        for base in ["GET", "POST"] {
            method_values.push(Value::Method(base.to_owned(), Some(m.clone())));
        }
    }
    out.insert(Dim::Method, method_values);
    let key_headers: Vec<String> = engines
        .iter()
        .filter_map(|e| e.key_header().map(str::to_ascii_lowercase))
        .collect();
    for (name, mut values) in headers {
        // A header that holds a list holds each element: one that matches beside one that
        // does not is read one way by forbid rules and the other by allow rules.
        if name != "host" && name != "user-agent" && !key_headers.contains(&name) {
            let singles: Vec<String> = values.iter().take(8).cloned().collect();
            for a in &singles {
                values.insert(format!("{a}, portcullis-diff-other"));
                for b in &singles {
                    if a < b {
                        values.insert(format!("{a}, {b}"));
                    }
                }
            }
        }
        let other = "portcullis-diff-other".to_owned();
        let values: Vec<String> = values
            .into_iter()
            .filter(|v| !v.is_empty() && !v.bytes().any(|b| b < b' ' || b == 0x7f))
            .collect();
        let mut vs = vec![
            Value::Header(name.clone(), vec![]),
            Value::Header(name.clone(), vec![other.clone()]),
        ];
        vs.extend(
            values
                .iter()
                .map(|v| Value::Header(name.clone(), vec![v.clone()])),
        );
        // A header sent twice: read like a list, or refused where one value is needed.
        for a in values.iter().take(8) {
            vs.push(Value::Header(name.clone(), vec![a.clone(), other.clone()]));
            for b in values.iter().take(8).filter(|b| a < *b) {
                vs.push(Value::Header(name.clone(), vec![a.clone(), b.clone()]));
            }
        }
        out.insert(Dim::Header(name), vs);
    }
    Ok(out)
}

fn set<'a>(
    headers: &'a mut BTreeMap<String, BTreeSet<String>>,
    name: &str,
) -> &'a mut BTreeSet<String> {
    headers.entry(name.to_ascii_lowercase()).or_default()
}

/// Finds the requests whose answer differs between `old` and `new`.
///
/// ```
/// use portcullis::diff::{diff, DiffOptions};
/// use portcullis::Policy;
///
/// let old = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [[rules]]
///     name = "admin"
///     effect = "forbid"
///     when = { path = "/admin/**" }
///     unless = { ip = "10.0.0.0/8" }
/// "#)?;
/// let new = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [[rules]]
///     name = "admin"
///     effect = "forbid"
///     when = { path = "/admin/**" }
///     unless = { ip = "10.0.0.0/16" }
/// "#)?;
/// let report = diff(&old, &new, &DiffOptions::default())?;
/// assert!(report.exhaustive);
/// let change = &report.changes[0];
/// assert_eq!(change.from.to_string(), "allow by default");
/// assert_eq!(change.to.to_string(), "forbidden (403) by rule \"admin\"");
/// // The smallest witness: an address of 10/8 outside 10.0/16, under /admin.
/// assert!(change.examples[0].target.starts_with("/admin"));
/// # Ok::<(), portcullis::PolicyError>(())
/// ```
pub fn diff(old: &Policy, new: &Policy, options: &DiffOptions) -> Result<DiffReport, PolicyError> {
    let (policies, labels) = with_stand_in_keys([old, new]);
    // Engines that trust the test harness's key, so that token witnesses verify; they decide
    // witnesses only, and no key set is fetched or read.
    let engines = [
        crate::testing::compile(&policies[0])?,
        crate::testing::compile(&policies[1])?,
    ];
    let values = candidates(&policies, &engines, &labels)?;
    #[cfg(feature = "tokens")]
    let (values, labels, every_token) = {
        let (mut values, mut labels) = (values, labels);
        let every_token = tokens::add(&policies, &mut values, &mut labels);
        (values, labels, every_token)
    };
    #[cfg(not(feature = "tokens"))]
    let every_token = true;
    let mut classes: Vec<(Dim, Vec<Value>)> = Vec::new();
    for (dim, values) in values {
        let probes = [
            Probe::new(&policies[0], &dim)?,
            Probe::new(&policies[1], &dim)?,
        ];
        if probes.iter().all(Probe::is_empty) {
            continue;
        }
        // One value per signature: the smallest.
        let mut by_signature: BTreeMap<Vec<u16>, Value> = BTreeMap::new();
        let mut sig = Vec::new();
        for v in values {
            sig.clear();
            let request = build(&[&v]);
            for p in &probes {
                p.signature(&request, &mut sig);
            }
            match by_signature.get(&sig) {
                Some(kept) if (kept.size(), kept) <= (v.size(), &v) => {}
                _ => {
                    by_signature.insert(sig.clone(), v);
                }
            }
        }
        classes.push((dim, by_signature.into_values().collect()));
    }
    let total = classes.iter().fold(1u128, |t, (_, vs)| {
        t.saturating_mul(vs.len().max(1) as u128)
    });
    let all_classes = total <= u128::from(options.budget);
    let tries = if all_classes {
        total as u64
    } else {
        options.budget
    };
    let mut groups: BTreeMap<(Outcome, Outcome), (u64, Vec<Witness>)> = BTreeMap::new();
    let mut changed = 0;
    let mut picked: Vec<&Value> = Vec::with_capacity(classes.len());
    let mut requests = Vec::with_capacity(CHUNK as usize);
    let mut before = Vec::with_capacity(CHUNK as usize);
    for start in (0..tries).step_by(CHUNK as usize) {
        requests.clear();
        for n in start..tries.min(start + CHUNK) {
            // Mixed-radix digits of the class index; a sample strides evenly through them.
            let mut index = if all_classes {
                u128::from(n)
            } else {
                u128::from(n) * total / u128::from(tries)
            };
            picked.clear();
            for (_, vs) in &classes {
                let len = vs.len().max(1) as u128;
                if let Some(v) = vs.get((index % len) as usize) {
                    picked.push(v);
                }
                index /= len;
            }
            requests.push(build(&picked));
        }
        // One engine at a time: a thread keeps the tokens one engine verified, so taking
        // turns would verify each token again for every witness.
        before.clear();
        before.extend(
            requests
                .iter()
                .map(|r| Outcome::of(&engines[0], &engines[0].decide(r))),
        );
        for (request, from) in requests.iter().zip(before.drain(..)) {
            let to = Outcome::of(&engines[1], &engines[1].decide(request));
            if from.same_answer(&to) {
                continue;
            }
            changed += 1;
            let (count, examples) = groups.entry((from, to)).or_default();
            *count += 1;
            examples.push(witness(request, &labels));
            examples.sort_by_key(|w| (w.size(), w.clone()));
            examples.dedup();
            examples.truncate(options.examples.max(1));
        }
    }
    let exhaustive = all_classes && every_token;
    Ok(DiffReport {
        witnesses: tries,
        classes: u64::try_from(total).unwrap_or(u64::MAX),
        exhaustive,
        changed,
        changes: groups
            .into_iter()
            .map(|((from, to), (count, examples))| DiffGroup {
                from,
                to,
                count,
                examples,
            })
            .collect(),
    })
}
