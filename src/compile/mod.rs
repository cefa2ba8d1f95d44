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

use crate::engine::client_ip::ClientIpConfig;
use crate::engine::ids::SmallIndex;
use crate::engine::keys::{parse_digest, KeyTable};
use crate::engine::parts::{About, Addresses, Callers, Settings, Slots};
use crate::engine::path::{is_token, PathOptions};
use crate::engine::provenance::{Provenance, Revision, SourceFile};
use crate::engine::verdict::ClientId;
use crate::engine::{ClientInfo, Engine, ListInfo, Stats};
use crate::error::PolicyError;
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
    let method = b.method.build(&layout.exists)?;
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
    Ok(Engine::new(
        Settings {
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
        },
        compiled.rules,
        layout,
        Slots {
            ip,
            method,
            ident: ident.slot,
            path,
            host,
            headers,
            claims,
            claims_neutral,
        },
        Callers {
            keys,
            clients,
            tokens,
        },
        Addresses {
            lists: list_infos,
            atoms,
        },
        About {
            stats,
            provenance,
            warnings,
        },
    ))
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

fn compile_keys(policy: &Policy) -> Result<(Option<KeyTable>, Vec<ClientInfo>), PolicyError> {
    let src = &policy.source;
    let Some(keys) = &policy.doc.keys else {
        return Ok((None, Vec::new()));
    };
    let header = crate::engine::header_names::canonical_name(&keys.header);
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
