//! Cedar (`cedar-policy`).
//!
//! Requests: principal `Client::"<name>"` (or `Anonymous::"anonymous"` without a known key),
//! action `Action::"<METHOD>"`, resource `Gate::"http"`, and a context
//! `{ ip: ip("..."), path: "...", ua: "<lower-cased User-Agent>", headers: { name: value } }`
//! (credential headers left out). Clients are entities whose parents are `Role::"<role>"`
//! entities, so a role condition is `principal in [Role::"r"]`.
//!
//! Each rule becomes a `permit` or `forbid` with `@id("<rule>")`:
//! `ip` is `context.ip.isInRange(ip("cidr"))`, `path` and `user_agent` are `like` patterns
//! (`*` and `**` both become `*`, which in Cedar also crosses `/`: `"/a/*.x"` matches
//! `/a/b/c.x` in Cedar but not in portcullis, where `*` stays inside one segment; no request
//! of the mix tells them apart), `method` is `action in [...]` in the scope, a present header
//! is `context.headers has "name"`. A rule with many CIDRs is split into one policy per
//! chunk of [`IP_CHUNK`] ranges, a disjunction per chunk: Cedar has no quantifier over a set.
//!
//! Combining: Cedar is default-deny and forbid-overrides, portcullis first-match. A `permit`
//! decides as in first-match already (any applicable forbid before it also forbids in Cedar).
//! A `forbid` that comes after an allow rule both may apply to would wrongly override it, so
//! such a forbid gets `unless { <that allow rule's conditions> || ... }` — decided statically by
//! [`Spec::earlier_allows_overlapping`]. In the generated policies no allow rule overlaps a later
//! forbid rule (their paths start apart), so no such guard is written and the policies read
//! exactly like the rules.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request as CedarRequest, RestrictedExpression,
};
use portcullis::Request;

use crate::http::{Fields, Keys};
use crate::spec::{path_alternatives, Conds, Spec};

/// The most CIDRs one policy tests.
pub const IP_CHUNK: usize = 100;

/// The Cedar policy text for `spec`.
pub fn policy_text(spec: &Spec) -> String {
    let mut out = String::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let effect = if rule.allow { "permit" } else { "forbid" };
        let mut when = rule.when.clone();
        let action = match when.method.take() {
            Some(methods) => format!("action in [{}]", actions(&methods)),
            None => "action".to_owned(),
        };
        let mut tail = String::new();
        if let Some(unless) = &rule.unless {
            let _ = write!(tail, " unless {{ {} }}", expr(unless));
        }
        if !rule.allow {
            let guards: Vec<String> = spec
                .earlier_allows_overlapping(i)
                .into_iter()
                .map(|k| applies(&spec.rules[k].when, spec.rules[k].unless.as_ref()))
                .collect();
            if !guards.is_empty() {
                let _ = write!(tail, " unless {{ {} }}", guards.join(" || "));
            }
        }
        // One policy per chunk of CIDRs: the rule applies if any chunk's policy does.
        let chunks: Vec<Option<Vec<String>>> = match when.ip.take() {
            Some(ips) if ips.len() > IP_CHUNK => {
                ips.chunks(IP_CHUNK).map(|c| Some(c.to_vec())).collect()
            }
            ips => vec![ips],
        };
        for chunk in chunks {
            let conds = Conds {
                ip: chunk,
                ..when.clone()
            };
            let body = expr(&conds);
            let _ = writeln!(
                out,
                "@id({}) {effect}(principal, {action}, resource) when {{ {body} }}{tail};",
                string(&rule.name)
            );
        }
    }
    out
}

/// `when && !unless`, as an expression.
fn applies(when: &Conds, unless: Option<&Conds>) -> String {
    let mut e = expr_with_action(when);
    if let Some(u) = unless {
        let _ = write!(e, " && !({})", expr_with_action(u));
    }
    format!("({e})")
}

fn expr_with_action(c: &Conds) -> String {
    let mut parts = vec![expr(c)];
    if let Some(methods) = &c.method {
        parts.push(format!("action in [{}]", actions(methods)));
    }
    parts.join(" && ")
}

/// The conditions other than `method`, ANDed; `true` when there are none.
fn expr(c: &Conds) -> String {
    let mut parts = Vec::new();
    if let Some(ips) = &c.ip {
        let alts: Vec<String> = ips
            .iter()
            .map(|cidr| format!("context.ip.isInRange(ip({}))", string(cidr)))
            .collect();
        parts.push(format!("({})", alts.join(" || ")));
    }
    if let Some(globs) = &c.path {
        let alts: Vec<String> = globs
            .iter()
            .flat_map(|g| path_alternatives(g))
            .map(|g| format!("context.path like {}", like(&g)))
            .collect();
        parts.push(format!("({})", alts.join(" || ")));
    }
    if let Some(roles) = &c.role {
        let list: Vec<String> = roles
            .iter()
            .map(|r| format!("Role::{}", string(r)))
            .collect();
        parts.push(format!("principal in [{}]", list.join(", ")));
    }
    for h in &c.present {
        parts.push(format!("context.headers has {}", string(h)));
    }
    if let Some(globs) = &c.user_agent {
        let alts: Vec<String> = globs
            .iter()
            .map(|g| format!("context.ua like {}", like(g)))
            .collect();
        parts.push(format!("({})", alts.join(" || ")));
    }
    if parts.is_empty() {
        "true".to_owned()
    } else {
        parts.join(" && ")
    }
}

fn actions(methods: &[String]) -> String {
    let list: Vec<String> = methods
        .iter()
        .map(|m| format!("Action::{}", string(m)))
        .collect();
    list.join(", ")
}

/// A Cedar string literal.
fn string(s: &str) -> String {
    format!("{s:?}")
}

/// A glob as a Cedar `like` pattern: `*` and `**` are `*`; other glob syntax is refused.
fn like(glob: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                out.push('*');
            }
            '?' | '[' | '{' | '\\' => panic!("glob {glob:?}: no Cedar `like` form"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(ty).expect("type name"),
        EntityId::new(id),
    )
}

/// Cedar with the policy loaded.
pub struct CedarGate {
    keys: Keys,
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    principals: Vec<EntityUid>,
    anonymous: EntityUid,
    resource: EntityUid,
    actions: HashMap<String, EntityUid>,
}

impl CedarGate {
    /// Parses the policy text and builds the entity store (clients and their roles).
    pub fn load(spec: &Spec, text: &str) -> CedarGate {
        let policies = PolicySet::from_str(text).expect("Cedar policies parse");
        let principals: Vec<EntityUid> = spec
            .clients
            .iter()
            .map(|c| uid("Client", &c.name))
            .collect();
        let mut roles = HashSet::new();
        let mut entities = Vec::new();
        for (c, p) in spec.clients.iter().zip(&principals) {
            let parents: HashSet<EntityUid> = c.roles.iter().map(|r| uid("Role", r)).collect();
            roles.extend(parents.iter().cloned());
            entities.push(Entity::new_no_attrs(p.clone(), parents));
        }
        entities.extend(
            roles
                .into_iter()
                .map(|r| Entity::new_no_attrs(r, HashSet::new())),
        );
        let entities = Entities::from_entities(entities, None).expect("entities");
        let actions = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
            .into_iter()
            .map(|m| (m.to_owned(), uid("Action", m)))
            .collect();
        CedarGate {
            keys: Keys::new(spec),
            policies,
            entities,
            authorizer: Authorizer::new(),
            principals,
            anonymous: uid("Anonymous", "anonymous"),
            resource: uid("Gate", "http"),
            actions,
        }
    }

    /// The number of policies.
    pub fn policy_count(&self) -> usize {
        self.policies.policies().count()
    }

    fn request(&self, request: &Request) -> Option<CedarRequest> {
        let f = Fields::read(request, &self.keys)?;
        let principal = match f.client {
            Some(i) => self.principals[i].clone(),
            None => self.anonymous.clone(),
        };
        let action = match self.actions.get(f.method) {
            Some(a) => a.clone(),
            None => uid("Action", f.method),
        };
        let mut headers: Vec<(String, RestrictedExpression)> = Vec::new();
        for (name, value) in request.headers() {
            let name = name.to_ascii_lowercase();
            if self.keys.is_credential(&name) || headers.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let value = String::from_utf8_lossy(value).into_owned();
            headers.push((name, RestrictedExpression::new_string(value)));
        }
        let context = Context::from_pairs([
            (
                "ip".to_owned(),
                RestrictedExpression::new_ip(f.ip.to_string()),
            ),
            (
                "path".to_owned(),
                RestrictedExpression::new_string(f.path.to_owned()),
            ),
            (
                "ua".to_owned(),
                RestrictedExpression::new_string(f.user_agent()),
            ),
            (
                "headers".to_owned(),
                RestrictedExpression::new_record(headers).ok()?,
            ),
        ])
        .ok()?;
        CedarRequest::new(principal, action, self.resource.clone(), context, None).ok()
    }

    /// Allow or not.
    pub fn allows(&self, request: &Request) -> bool {
        match self.request(request) {
            Some(r) => {
                self.authorizer
                    .is_authorized(&r, &self.policies, &self.entities)
                    .decision()
                    == Decision::Allow
            }
            None => false,
        }
    }

    /// The evaluation errors for a request (a policy that errs is skipped by Cedar, which
    /// would hide a translation mistake).
    pub fn errors(&self, request: &Request) -> Vec<String> {
        match self.request(request) {
            Some(r) => self
                .authorizer
                .is_authorized(&r, &self.policies, &self.entities)
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
            None => vec!["request not built".to_owned()],
        }
    }
}
