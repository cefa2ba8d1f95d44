//! Validation and compilation: from a [`Policy`] document to an [`Engine`].
//!
//! Every check that can fail happens here, once, so that deciding a request cannot fail:
//! addresses, globs and regexes are parsed and size-checked, names are resolved, and each
//! condition is sorted into the slot that evaluates it.

pub(crate) mod addr;
mod claims;
mod conditions;
pub(crate) mod ip;
pub(crate) mod lists;
mod never_match;
pub(crate) mod patterns;
mod rules;
pub(crate) mod slots;
pub(crate) mod tokens;

use std::collections::{BTreeSet, HashMap};

use crate::engine::bits::{Bits, ClauseLayout};
use crate::engine::client_ip::ClientIpConfig;
use crate::engine::ids::SmallIndex;
use crate::engine::keys::{parse_digest, KeyTable};
use crate::engine::path::{is_token, PathOptions};
use crate::engine::provenance::{Provenance, Revision, SourceFile};
use crate::engine::verdict::ClientId;
use crate::engine::{Clause, ClientInfo, Engine, ListInfo, SlotRef, Stats, Step};
use crate::error::PolicyError;
use crate::policy::model::{Effect, Mode};
use crate::policy::source::Seg;
use crate::policy::Policy;

/// The most rules one policy may hold.
pub const MAX_RULES: usize = 100_000;

impl Policy {
    /// Validates the policy and compiles it into an [`Engine`], reading any list files it names.
    pub fn compile(&self) -> Result<Engine, PolicyError> {
        compile(self, tokens::KeyMode::Issuers)
    }
}

pub(crate) fn compile(policy: &Policy, key_mode: tokens::KeyMode) -> Result<Engine, PolicyError> {
    let doc = &policy.doc;
    let src = &policy.source;

    let mut trusted = Vec::with_capacity(doc.client_ip.trusted_proxies.len());
    for (i, t) in doc.client_ip.trusted_proxies.iter().enumerate() {
        let fail = |msg: String| {
            let path = [
                Seg::Key("client_ip"),
                Seg::Key("trusted_proxies"),
                Seg::Index(i),
            ];
            src.place(PolicyError::invalid(msg), &path, &["trusted_proxies", t])
        };
        let net = addr::parse_net(t).map_err(|msg| fail(format!("trusted proxy {msg}")))?;
        if net.prefix_len() == 0 && !doc.client_ip.trust_every_peer {
            return Err(fail(format!(
                "trusted proxy `{t}` trusts every peer, so any client can choose its own address; \
                 list your proxies, or set `trust_every_peer = true` if only proxies can reach \
                 this listener"
            )));
        }
        trusted.push(net);
    }
    // Everyone can be trusted in pieces too (`0.0.0.0/1` and `128.0.0.0/1`).
    let everyone = ipnet::IpNet::aggregate(&trusted)
        .iter()
        .find(|n| n.prefix_len() == 0)
        .copied();
    if let (Some(all), false) = (everyone, doc.client_ip.trust_every_peer) {
        return Err(src.place(
            PolicyError::invalid(format!(
                "`trusted_proxies` together cover every address (`{all}`), so any client can \
                 choose its own address; list your proxies, or set `trust_every_peer = true` if \
                 only proxies can reach this listener"
            )),
            &[Seg::Key("client_ip"), Seg::Key("trusted_proxies")],
            &["trusted_proxies"],
        ));
    }

    if doc.paths.max_length < 1 {
        return Err(src.place(
            PolicyError::invalid("`max_length` must be at least 1"),
            &[Seg::Key("paths"), Seg::Key("max_length")],
            &["max_length"],
        ));
    }

    let (lists, warnings) = lists::load(policy)?;
    let (mut keys, clients) = compile_keys(policy)?;
    let token_setup = tokens::compile(policy, key_mode)?;
    // With `[tokens]`, `Authorization: Bearer` carries tokens; API keys use their header.
    if let (Some(k), Some(_)) = (keys.as_mut(), &token_setup) {
        k.bearer = false;
    }

    if doc.rules.len() > MAX_RULES {
        return Err(src.place(
            PolicyError::new(
                crate::error::ErrorKind::Limit,
                format!("more than {MAX_RULES} rules"),
            ),
            &[Seg::Key("rules")],
            &["rules"],
        ));
    }
    let compiled = rules::compile(
        policy,
        &lists,
        &clients,
        keys.as_ref(),
        token_setup.as_ref(),
    )?;

    let list_infos: Vec<ListInfo> = lists
        .iter()
        .map(|l| ListInfo {
            name: l.name.clone(),
            len: l.nets.len(),
        })
        .collect();
    let provenance = provenance(policy, &lists);
    let list_nets: Vec<_> = lists.into_iter().map(|l| l.nets).collect();
    let b = compiled.builders;
    let layout = compiled.layout;
    let (exists, favouring) = (&layout.exists, &layout.forbid_favouring);
    let (ip, atoms) = b.ip.build(exists, favouring, &list_nets)?;
    let inline = atoms.iter().flat_map(|a| match a {
        crate::engine::Atom::Inline(nets) => nets.as_slice(),
        crate::engine::Atom::List(_) => &[],
    });
    let all_nets = list_nets.iter().flatten().chain(inline);
    let (ipv4, ipv6) = all_nets.fold((0, 0), |(v4, v6), n| match n {
        ipnet::IpNet::V4(_) => (v4 + 1, v6),
        ipnet::IpNet::V6(_) => (v4, v6 + 1),
    });
    drop(list_nets);
    let place_slot =
        |msg: String| src.place(PolicyError::invalid(msg), &[Seg::Key("rules")], &["rules"]);
    let globs = b.path.glob_count() + b.host.glob_count();
    let path = b.path.build(exists, favouring).map_err(place_slot)?;
    let host = b.host.build(exists, favouring).map_err(place_slot)?;
    let mut headers = Vec::new();
    for h in b.headers {
        if let Some(slot) = h.build(exists, favouring).map_err(place_slot)? {
            headers.push(slot);
        }
    }
    let ident = b.ident.build(&layout.exists, &clients)?;
    let (claims, claims_neutral, claim_names) = b.claims.build(&layout.exists);
    let tokens = token_setup.map(|setup| crate::tokens::Tokens::new(setup, claim_names, &ident));
    let stats = Stats {
        rules: compiled.rules.len(),
        lists: list_infos.len(),
        ipv4_prefixes: ipv4,
        ipv6_prefixes: ipv6,
        globs,
        clients: clients.len(),
        keys: keys.as_ref().map_or(0, |k| k.digests.len()),
        ip_table_bytes: ip.as_ref().map_or(0, |s| s.table.heap_bytes()),
        ipv4_table_bytes: ip.as_ref().map_or(0, |s| s.table.v4_bytes()),
        ipv6_table_bytes: ip.as_ref().map_or(0, |s| s.table.v6_bytes()),
    };
    let mut engine = Engine {
        name: src.name.clone(),
        default: doc.policy.default,
        combine: doc.policy.combine,
        mode: doc.policy.mode,
        path_options: PathOptions {
            max_length: doc.paths.max_length,
            encoded_slash: doc.paths.encoded_slash,
            case_sensitive: doc.paths.case_sensitive,
        },
        client_ip: ClientIpConfig {
            source: doc.client_ip.source,
            trusted,
        },
        on_unknown: doc.client_ip.on_unknown,
        method: b.method.build(&layout.exists)?,
        ident: ident.slot,
        claims,
        tokens,
        layout: layout.clauses,
        enforce: layout.enforce,
        report: layout.report,
        forbid: layout.forbid,
        exists: layout.exists,
        forbid_favouring: layout.forbid_favouring,
        rules: compiled.rules,
        ip,
        path,
        host,
        headers,
        keys,
        lists: list_infos,
        atoms,
        clients,
        stats,
        provenance,
        warnings,
        plan: Box::default(),
    };
    engine.plan = plan(&engine, &claims_neutral);
    Ok(engine)
}

/// The policy file and the list files it read, and the revision they make.
fn provenance(policy: &Policy, lists: &[lists::List]) -> Provenance {
    let text = policy.source.text().as_bytes();
    let mut files: Vec<SourceFile> = lists.iter().filter_map(|l| l.file.clone()).collect();
    let revision = Revision::of(text, &files);
    if let Some(path) = &policy.path {
        files.insert(0, SourceFile::new(path.clone(), text));
    }
    Provenance { revision, files }
}

/// The order a decision reads the slots in: the method and path first (cheap, and they rule
/// out most rules), User-Agent and other headers last.
fn plan(e: &Engine, claims_neutral: &Bits) -> Box<[Step]> {
    let per_clause = e.layout.words_per_clause();
    let exists = e.exists.words();
    // A rule is mentioned by a slot when one of its existing clause bits is not neutral there.
    let mentions = |neutrals: &[&Bits]| {
        let mut words = vec![0u64; per_clause];
        for n in neutrals {
            let claimed = |j: usize| {
                exists.get(j).copied().unwrap_or(0) & !n.words().get(j).copied().unwrap_or(0)
            };
            for (i, w) in words.iter_mut().enumerate() {
                *w |= claimed(i) | claimed(per_clause + i);
            }
        }
        Bits::from(words)
    };
    let mut plan = Vec::new();
    if let Some(m) = &e.method {
        plan.push(Step {
            slot: SlotRef::Method,
            mentions: mentions(&[&m.neutral]),
        });
    }
    if let Some(v) = &e.path {
        plan.push(Step {
            slot: SlotRef::Path,
            mentions: mentions(&[&v.neutral]),
        });
    }
    if let Some(v) = &e.host {
        plan.push(Step {
            slot: SlotRef::Host,
            mentions: mentions(&[&v.neutral]),
        });
    }
    if let Some(ip) = &e.ip {
        plan.push(Step {
            slot: SlotRef::Ip,
            mentions: mentions(&[&ip.atoms.neutral]),
        });
    }
    if let Some(i) = &e.ident {
        let neutrals: Vec<&Bits> = [&i.clients, &i.roles, &i.authenticated]
            .into_iter()
            .flatten()
            .map(|s| &s.neutral)
            .collect();
        plan.push(Step {
            slot: SlotRef::Ident,
            mentions: mentions(&neutrals),
        });
    }
    if e.claims.is_some() {
        plan.push(Step {
            slot: SlotRef::Claims,
            mentions: mentions(&[claims_neutral]),
        });
    }
    for (k, h) in e.headers.iter().enumerate() {
        plan.push(Step {
            slot: SlotRef::Header(k),
            mentions: mentions(&[&h.neutral]),
        });
    }
    plan.into_boxed_slice()
}

/// The rule-level masks, over the engine's clause layout.
pub(crate) struct Layout {
    pub(crate) clauses: ClauseLayout,
    pub(crate) exists: Bits,
    pub(crate) enforce: Bits,
    pub(crate) report: Bits,
    pub(crate) forbid: Bits,
    pub(crate) forbid_favouring: Bits,
}

impl Layout {
    pub(crate) fn new(rules: usize) -> Result<Layout, PolicyError> {
        let clauses = ClauseLayout::for_rules(rules).ok_or_else(|| too_many("rules"))?;
        let per_clause = clauses.words_per_clause();
        Ok(Layout {
            clauses,
            exists: Bits::zeros(clauses.words()),
            enforce: Bits::zeros(per_clause),
            report: Bits::zeros(per_clause),
            forbid: Bits::zeros(per_clause),
            forbid_favouring: Bits::zeros(clauses.words()),
        })
    }

    pub(crate) fn when_bit(&self, rule: u32) -> u32 {
        self.clauses.bit(rule, Clause::When)
    }

    pub(crate) fn unless_bit(&self, rule: u32) -> u32 {
        self.clauses.bit(rule, Clause::Unless)
    }

    pub(crate) fn add_rule(&mut self, rule: u32, effect: Effect, mode: Mode, has_unless: bool) {
        let (when, unless) = (self.when_bit(rule), self.unless_bit(rule));
        self.exists.set(when);
        if has_unless {
            self.exists.set(unless);
        }
        match mode {
            Mode::Enforce => self.enforce.set(rule),
            Mode::Report => self.report.set(rule),
        }
        // A forbid rule's `when` and an allow rule's `unless` can only make a decision stricter
        // by holding.
        match effect {
            Effect::Forbid => {
                self.forbid.set(rule);
                self.forbid_favouring.set(when);
            }
            Effect::Allow => self.forbid_favouring.set(unless),
        }
    }
}

fn compile_keys(policy: &Policy) -> Result<(Option<KeyTable>, Vec<ClientInfo>), PolicyError> {
    let src = &policy.source;
    let Some(keys) = &policy.doc.keys else {
        return Ok((None, Vec::new()));
    };
    let header = crate::engine::request::canonical_name(&keys.header);
    if !is_token(header.as_bytes()) {
        return Err(src.place(
            PolicyError::invalid(format!(
                "key header `{}` is not a valid header name",
                keys.header
            )),
            &[Seg::Key("keys"), Seg::Key("header")],
            &["header"],
        ));
    }
    let mut digests = HashMap::default();
    let mut clients = Vec::with_capacity(keys.clients.len());
    for (i, (name, def)) in keys.clients.iter().enumerate() {
        let here = [Seg::Key("keys"), Seg::Key("clients"), Seg::Key(name)];
        lists::check_name(name).map_err(|m| src.place(PolicyError::invalid(m), &here, &[name]))?;
        if def.sha256.0.is_empty() {
            return Err(src.place(
                PolicyError::invalid(format!("client `{name}` has no `sha256` digest")),
                &here,
                &[name],
            ));
        }
        let id = ClientId(SmallIndex::new(i).ok_or_else(|| too_many("clients"))?);
        for (j, hex) in def.sha256.0.iter().enumerate() {
            let path = [
                Seg::Key("keys"),
                Seg::Key("clients"),
                Seg::Key(name),
                Seg::Key("sha256"),
                Seg::Index(j),
            ];
            let digest = parse_digest(hex).ok_or_else(|| {
                src.place(
                    PolicyError::invalid(format!(
                        "client `{name}`: a `sha256` digest must be 64 hex digits (`portcullis hash-key` prints one)"
                    )),
                    &path,
                    &[name, hex],
                )
            })?;
            if digests.insert(digest, id).is_some() {
                return Err(src.place(
                    PolicyError::invalid(format!(
                        "client `{name}`: this digest is already listed for a client"
                    )),
                    &path,
                    &[name, hex],
                ));
            }
        }
        let mut roles = BTreeSet::new();
        for (j, role) in def.roles.iter().enumerate() {
            let path = [
                Seg::Key("keys"),
                Seg::Key("clients"),
                Seg::Key(name),
                Seg::Key("roles"),
                Seg::Index(j),
            ];
            lists::check_name(role).map_err(|m| {
                src.place(
                    PolicyError::invalid(format!("role {m}")),
                    &path,
                    &[name, role],
                )
            })?;
            roles.insert(role.clone());
        }
        clients.push(ClientInfo {
            name: name.clone(),
            roles: roles.into_iter().collect(),
        });
    }
    let table = KeyTable {
        header,
        bearer: keys.bearer,
        digests,
    };
    Ok((Some(table), clients))
}

/// The error for a table too large for the engine's 32-bit ids (bounded well below by the
/// policy limits, so never met in practice).
pub(crate) fn too_many(what: &str) -> PolicyError {
    PolicyError::new(
        crate::error::ErrorKind::Limit,
        format!("too many {what} for one policy"),
    )
}
