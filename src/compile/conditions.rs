//! One function per condition key: each checks what a rule wrote under its key and adds the
//! condition to the builder of the slot that evaluates it. Token conditions (`issuer`,
//! `scope`, `claim`) are in `claims.rs`.

use std::collections::HashSet;

use super::rules::{values, Builders, Place};
use crate::compile::addr::parse_net;
use crate::compile::patterns::{self, GlobKind};
use crate::compile::slots::{IdentCondition, Pattern, ValueBuilder};
use crate::engine::globs::GlobMode;
use crate::engine::header_names::canonical_name;
use crate::engine::ids::{ClientKey, ListId};
use crate::engine::keys::{secrecy, Secrecy};
use crate::engine::path::is_token;
use crate::engine::slots::{IdentPart, ValueSource};
use crate::engine::{Atom, Condition, ConditionData, ConditionKey, SlotRef};
use crate::error::PolicyError;
use crate::policy::model::{Conditions, HeaderMatcherDef};

/// `ip`: addresses, CIDRs and `@list` references, as atoms of the address table.
pub(super) fn ip_condition(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<Condition>, PolicyError> {
    let Some(items) = values(place, "ip", &c.ip)? else {
        return Ok(None);
    };
    let mut atoms = Vec::new();
    let mut inline = Vec::new();
    for (j, item) in items.iter().enumerate() {
        if let Some(name) = item.strip_prefix('@') {
            let Some(list) = place.cx.lists.iter().position(|l| l.name == name) else {
                let known: Vec<_> = place
                    .cx
                    .lists
                    .iter()
                    .map(|l| format!("`{}`", l.name))
                    .collect();
                let hint = if known.is_empty() {
                    "no lists are defined under `[lists]`".to_owned()
                } else {
                    format!("known lists: {}", known.join(", "))
                };
                return Err(place.error(
                    "ip",
                    Some(j),
                    item,
                    format!("unknown list `{name}` ({hint})"),
                ));
            };
            let list = ListId::new(list).ok_or_else(|| super::too_many("lists"))?;
            atoms.push(b.ip.list_atom(list)?);
        } else {
            let net = parse_net(item).map_err(|m| place.error("ip", Some(j), item, m))?;
            inline.push(net);
        }
    }
    if !inline.is_empty() {
        atoms.push(b.ip.push_atom(Atom::Inline(inline))?);
    }
    b.ip.add(place.bit, &atoms);
    Ok(Some(Condition {
        key: ConditionKey::Ip,
        slot: SlotRef::Ip,
        written: items.to_vec(),
        data: ConditionData::Ip { atoms },
    }))
}

/// `path`: globs over the decoded path.
pub(super) fn path_condition(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<Condition>, PolicyError> {
    let Some(items) = values(place, "path", &c.path)? else {
        return Ok(None);
    };
    let kind = GlobKind::Path {
        case_sensitive: place.cx.case_sensitive,
        kept_slash: place.cx.kept_slash,
    };
    value_condition(
        place,
        &mut b.path,
        SlotRef::Path,
        ConditionKey::Path,
        items,
        |p| patterns::globs(p, kind).map(Pattern::Globs),
    )
    .map(Some)
}

/// `method`: method names, upper-cased, with the methods each implies.
pub(super) fn method_condition(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<Condition>, PolicyError> {
    let Some(items) = values(place, "method", &c.method)? else {
        return Ok(None);
    };
    let mut methods: Vec<Box<[u8]>> = Vec::new();
    for (j, m) in items.iter().enumerate() {
        if !is_token(m.as_bytes()) {
            return Err(place.error("method", Some(j), m, format!("`{m}` is not a valid method")));
        }
        let upper = m.to_ascii_uppercase();
        for u in crate::engine::methods::covered(&upper) {
            let u: Box<[u8]> = u.as_bytes().into();
            if !methods.contains(&u) {
                methods.push(u);
            }
        }
    }
    b.method.add(place.bit, &methods);
    Ok(Some(Condition {
        key: ConditionKey::Method,
        slot: SlotRef::Method,
        written: items.to_vec(),
        data: ConditionData::Method(methods),
    }))
}

/// `host`: globs over the normalised host.
pub(super) fn host_condition(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<Condition>, PolicyError> {
    let Some(items) = values(place, "host", &c.host)? else {
        return Ok(None);
    };
    value_condition(
        place,
        &mut b.host,
        SlotRef::Host,
        ConditionKey::Host,
        items,
        |p| patterns::globs(p, GlobKind::Host).map(Pattern::Globs),
    )
    .map(Some)
}

/// `header`: one condition per header name, each in that header's slot. Headers that carry
/// credentials may not be matched by value.
pub(super) fn header_conditions(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Vec<Condition>, PolicyError> {
    let Some(headers) = &c.header else {
        return Ok(Vec::new());
    };
    if headers.is_empty() {
        return Err(place.error(
            "header",
            None,
            "header",
            "`header` is empty, so it could never hold; remove it or name at least one header"
                .to_owned(),
        ));
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (name, matchers) in headers {
        let lower = canonical_name(name);
        let key = "header";
        if !is_token(lower.as_bytes()) {
            return Err(place.error(
                key,
                None,
                name,
                format!("`{name}` is not a valid header name"),
            ));
        }
        if !seen.insert(lower.clone()) {
            return Err(place.error(key, None, name, format!("header `{name}` is named twice")));
        }
        if lower == "host" {
            return Err(place.error(
                key,
                None,
                name,
                "match the host with the `host` key, which normalises it".to_owned(),
            ));
        }
        let secret = secrecy(&lower, place.cx.key_header);
        if matchers.0.is_empty() {
            return Err(place.error(key, None, name, format!("header `{name}` has no matcher")));
        }
        // A secret must never sit in a policy in clear text.
        let refused = |m: &HeaderMatcherDef| match secret {
            Secrecy::None => false,
            Secrecy::Part => matches!(m, HeaderMatcherDef::Exact(_)),
            Secrecy::Whole => !matches!(m, HeaderMatcherDef::Present | HeaderMatcherDef::Absent),
        };
        if matchers.0.iter().any(refused) {
            let hint = match secret {
                Secrecy::Whole => "match it only with `present` or `absent`, and match keys with `client` or `role`",
                _ => "match it with a `glob` or `regex` over the part you need, never an exact value",
            };
            return Err(place.error(
                key,
                None,
                name,
                format!("header `{name}` carries credentials: {hint}"),
            ));
        }
        let slot = header_slot(b, &lower, false);
        let written: Vec<String> = matchers.0.iter().map(describe_matcher).collect();
        out.push(header_condition(
            place,
            b,
            slot,
            &lower,
            &matchers.0,
            written,
        )?);
    }
    Ok(out)
}

/// `user_agent`: case-insensitive globs over the User-Agent header, in a slot of its own.
pub(super) fn user_agent_condition(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<Condition>, PolicyError> {
    let Some(items) = values(place, "user_agent", &c.user_agent)? else {
        return Ok(None);
    };
    let slot = header_slot(b, "user-agent", true);
    let builder = b
        .headers
        .get_mut(slot)
        .ok_or_else(|| place.error("user_agent", None, "", "internal slot error".into()))?;
    value_condition(
        place,
        builder,
        SlotRef::Header(slot),
        ConditionKey::UserAgent,
        items,
        |p| patterns::globs(p, GlobKind::UserAgent).map(Pattern::Globs),
    )
    .map(Some)
}

/// `client`, `role` and `authenticated`: the parts of the identity slot, added together.
pub(super) fn ident_conditions(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
    out: &mut Vec<Condition>,
) -> Result<(), PolicyError> {
    let mut ident = IdentCondition::default();
    if let Some((cond, ids)) = client_condition(b, c, place)? {
        out.push(cond);
        ident.clients = Some(ids);
    }
    if let Some((cond, roles)) = role_condition(c, place)? {
        out.push(cond);
        ident.roles = Some(roles);
    }
    if let Some(a) = c.authenticated {
        out.push(Condition {
            key: ConditionKey::Authenticated,
            slot: SlotRef::Ident,
            written: vec![a.to_string()],
            data: ConditionData::Ident(IdentPart::Authenticated),
        });
        ident.authenticated = Some(a);
    }
    if !ident.is_empty() {
        b.ident.add(place.bit, ident);
    }
    Ok(())
}

/// `client`: API client names, each resolved to its id.
pub(super) fn client_condition(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<(Condition, Vec<ClientKey>)>, PolicyError> {
    let Some(items) = values(place, "client", &c.client)? else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    for (j, name) in items.iter().enumerate() {
        let known = place.cx.clients.iter().position(|cl| &cl.name == name);
        let i = match known {
            Some(i) => i,
            // A token's client claim can name anyone: only its spelling is checked.
            None if place.cx.tokens.is_some_and(|t| t.clients) => {
                crate::compile::lists::check_name(name)
                    .map_err(|m| place.error("client", Some(j), name, m))?;
                let extra = &mut b.ident.token_clients;
                let at = match extra.iter().position(|n| n == name) {
                    Some(at) => at,
                    None => {
                        extra.push(name.clone());
                        extra.len() - 1
                    }
                };
                place.cx.clients.len() + at
            }
            None => {
                return Err(place.error(
                    "client",
                    Some(j),
                    name,
                    format!(
                        "unknown client `{name}` (clients are defined under `[keys.clients]`, \
                         or named by tokens of an issuer with a `client_claim`)"
                    ),
                ))
            }
        };
        ids.push(ClientKey::new(i).ok_or_else(|| super::too_many("clients"))?);
    }
    let cond = Condition {
        key: ConditionKey::Client,
        slot: SlotRef::Ident,
        written: items.to_vec(),
        data: ConditionData::Ident(IdentPart::Client),
    };
    Ok(Some((cond, ids)))
}

/// `role`: role names some client holds.
pub(super) fn role_condition(
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Option<(Condition, Vec<String>)>, PolicyError> {
    let Some(items) = values(place, "role", &c.role)? else {
        return Ok(None);
    };
    for (j, role) in items.iter().enumerate() {
        let token_roles = place.cx.tokens.is_some_and(|t| t.roles);
        if !token_roles && !place.cx.clients.iter().any(|cl| cl.roles.contains(role)) {
            return Err(place.error(
                "role",
                Some(j),
                role,
                format!("no client has role `{role}`"),
            ));
        }
    }
    let cond = Condition {
        key: ConditionKey::Role,
        slot: SlotRef::Ident,
        written: items.to_vec(),
        data: ConditionData::Ident(IdentPart::Role),
    };
    Ok(Some((cond, items.to_vec())))
}

/// The header slot for `name` (the User-Agent key has a slot of its own).
pub(super) fn header_slot(b: &mut Builders, name: &str, user_agent: bool) -> usize {
    let existing = if user_agent {
        b.user_agent
    } else {
        b.header_index.get(name).copied()
    };
    if let Some(i) = existing {
        return i;
    }
    // User-Agent globs ignore case; header value globs do not.
    b.headers.push(ValueBuilder::new(
        ValueSource::Header(name.to_owned()),
        !user_agent,
        GlobMode::Text {
            case_sensitive: !user_agent,
        },
    ));
    let i = b.headers.len() - 1;
    if user_agent {
        b.user_agent = Some(i);
    } else {
        b.header_index.insert(name.to_owned(), i);
    }
    i
}

pub(super) fn value_condition(
    place: &Place<'_>,
    builder: &mut ValueBuilder,
    slot: SlotRef,
    key: ConditionKey,
    items: &[String],
    compile: impl Fn(&str) -> Result<Pattern, String>,
) -> Result<Condition, PolicyError> {
    let bit = place.bit;
    builder.claim(bit);
    let mut refs = Vec::new();
    for (j, item) in items.iter().enumerate() {
        let pattern = compile(item).map_err(|m| place.error(key.as_str(), Some(j), item, m))?;
        refs.extend(builder.add(bit, pattern).into_iter().map(|r| (r, j)));
    }
    Ok(Condition {
        key,
        slot,
        written: items.to_vec(),
        data: ConditionData::Value(refs),
    })
}

pub(super) fn header_condition(
    place: &Place<'_>,
    b: &mut Builders,
    slot: usize,
    name: &str,
    matchers: &[HeaderMatcherDef],
    written: Vec<String>,
) -> Result<Condition, PolicyError> {
    let bit = place.bit;
    let Some(builder) = b.headers.get_mut(slot) else {
        return Err(place.error("header", None, name, "internal slot error".into()));
    };
    builder.claim(bit);
    let mut refs = Vec::new();
    for (j, m) in matchers.iter().enumerate() {
        let err =
            |msg: String| place.error("header", None, name, format!("header `{name}`: {msg}"));
        let pattern = match m {
            // `""` is the empty value (`User-Agent:` with nothing after it), the commonest bot
            // rule; any other value is checked like every written pattern.
            HeaderMatcherDef::Exact(v) if v.is_empty() => Pattern::Exact(Box::default()),
            HeaderMatcherDef::Exact(v) => {
                patterns::check_text(v, "value").map_err(err)?;
                // A value with commas is also read element by element, and a granting
                // condition needs every reading to match: the whole value and each element
                // can never all equal one string holding a comma.
                if place.grants && v.contains(',') {
                    return Err(err(format!(
                        "`{v}` holds a comma, and a header value is also read element by \
                         element, so this condition could never let a request through; use a \
                         `glob` or `regex` that matches the whole value and each element"
                    )));
                }
                Pattern::Exact(v.as_bytes().into())
            }
            HeaderMatcherDef::Glob(g) => {
                Pattern::Globs(patterns::globs(g, GlobKind::HeaderValue).map_err(err)?)
            }
            HeaderMatcherDef::Regex(r) => Pattern::Regex(patterns::check_regex(r).map_err(err)?),
            HeaderMatcherDef::Present => Pattern::Present,
            HeaderMatcherDef::Absent => Pattern::Absent,
        };
        refs.extend(builder.add(bit, pattern).into_iter().map(|r| (r, j)));
    }
    Ok(Condition {
        key: ConditionKey::Header,
        slot: SlotRef::Header(slot),
        written,
        data: ConditionData::Value(refs),
    })
}

pub(super) fn describe_matcher(m: &HeaderMatcherDef) -> String {
    match m {
        HeaderMatcherDef::Exact(v) => format!("{v:?}"),
        HeaderMatcherDef::Glob(g) => format!("glob {g:?}"),
        HeaderMatcherDef::Regex(r) => format!("regex {r:?}"),
        HeaderMatcherDef::Present => "present".to_owned(),
        HeaderMatcherDef::Absent => "absent".to_owned(),
    }
}
