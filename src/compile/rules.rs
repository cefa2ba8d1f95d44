//! Rules: names, effects and each condition, sorted into the slot builders.

use std::collections::{HashMap, HashSet};

use super::conditions::{
    header_conditions, host_condition, ident_conditions, ip_condition, method_condition,
    path_condition, user_agent_condition,
};
use crate::compile::lists::List;
use crate::compile::slots::{ClaimBuilder, IdentBuilder, IpBuilder, MethodBuilder, ValueBuilder};
use crate::compile::tokens::TokenSetup;
use crate::engine::globs::GlobMode;
use crate::engine::ids::ClauseBit;
use crate::engine::ids::SmallIndex;
use crate::engine::keys::KeyTable;
use crate::engine::layout::RuleMasks;
use crate::engine::slots::ValueSource;
use crate::engine::verdict::RuleId;
use crate::engine::{Clause, ClientInfo, Condition, Rule};
use crate::error::PolicyError;
use crate::policy::model::{Conditions, Effect, EncodedSlash, Mode, OneOrMany, RuleDef};
use crate::policy::source::{Seg, Source};
use crate::policy::Policy;

pub(crate) struct Builders {
    pub(crate) ip: IpBuilder,
    pub(crate) method: MethodBuilder,
    pub(crate) ident: IdentBuilder,
    pub(crate) path: ValueBuilder,
    pub(crate) host: ValueBuilder,
    pub(crate) headers: Vec<ValueBuilder>,
    pub(crate) claims: ClaimBuilder,
    pub(super) header_index: HashMap<String, usize>,
    pub(super) user_agent: Option<usize>,
}

pub(crate) struct Compiled {
    pub(crate) rules: Vec<Rule>,
    pub(crate) layout: RuleMasks,
    pub(crate) builders: Builders,
}

/// What rule compilation reads besides the rules.
pub(super) struct Cx<'a> {
    src: &'a Source,
    pub(super) lists: &'a [List],
    pub(super) clients: &'a [ClientInfo],
    pub(super) key_header: Option<&'a str>,
    pub(super) case_sensitive: bool,
    /// Whether a path reading can keep `%2F` inside its segment.
    pub(super) kept_slash: bool,
    pub(super) tokens: Option<&'a TokenSetup>,
}

/// Where in the document a condition value is, for errors.
pub(super) struct Place<'a> {
    /// What every condition of the policy may refer to.
    pub(super) cx: &'a Cx<'a>,
    rule_index: usize,
    rule: &'a str,
    clause: Clause,
    /// Whether a condition here holding can let a request through (an allow rule's `when`, a
    /// forbid rule's `unless`): several header values must then all match.
    pub(super) grants: bool,
    /// The clause bit a condition here sets.
    pub(super) bit: ClauseBit,
}

impl Place<'_> {
    pub(super) fn error(
        &self,
        key: &str,
        index: Option<usize>,
        value: &str,
        message: String,
    ) -> PolicyError {
        let mut path = vec![
            Seg::Key("rules"),
            Seg::Index(self.rule_index),
            Seg::Key(self.clause.as_str()),
            Seg::Key(key),
        ];
        if let Some(i) = index {
            path.push(Seg::Index(i));
        }
        self.cx
            .src
            .place(
                PolicyError::invalid(message),
                &path,
                &["name", self.rule, key, value],
            )
            .in_rule(self.rule)
    }
}

pub(crate) fn compile(
    policy: &Policy,
    lists: &[List],
    clients: &[ClientInfo],
    keys: Option<&KeyTable>,
    tokens: Option<&TokenSetup>,
) -> Result<Compiled, PolicyError> {
    let src = &policy.source;
    let cx = Cx {
        src,
        lists,
        clients,
        key_header: keys.map(|k| k.header.as_str()),
        case_sensitive: policy.doc.paths.case_sensitive,
        kept_slash: policy.doc.paths.encoded_slash == EncodedSlash::Both,
        tokens,
    };
    let defs = &policy.doc.rules;
    let mut layout = RuleMasks::new(defs.len()).ok_or_else(|| super::too_many("rules"))?;
    let mut b = Builders {
        ip: IpBuilder::default(),
        method: MethodBuilder::default(),
        ident: IdentBuilder::default(),
        path: ValueBuilder::new(
            ValueSource::Path,
            false,
            GlobMode::Path {
                case_sensitive: policy.doc.paths.case_sensitive,
            },
        ),
        host: ValueBuilder::new(
            ValueSource::Host,
            false,
            GlobMode::Text {
                case_sensitive: false,
            },
        ),
        headers: Vec::new(),
        claims: ClaimBuilder::default(),
        header_index: HashMap::new(),
        user_agent: None,
    };
    let mut names = HashSet::new();
    let mut rules = Vec::with_capacity(defs.len());
    for (i, def) in defs.iter().enumerate() {
        let rule = SmallIndex::new(i).ok_or_else(|| super::too_many("rules"))?;
        let id = RuleId(rule);
        let here = [Seg::Key("rules"), Seg::Index(i)];
        let location = src.locate(&here, &["name", &def.name]);
        let fail = |msg: String, key: &str| {
            src.place(
                PolicyError::invalid(msg),
                &[Seg::Key("rules"), Seg::Index(i), Seg::Key(key)],
                &["name", &def.name, key],
            )
            .in_rule(&def.name)
        };
        check_rule_name(&def.name).map_err(|m| fail(m, "name"))?;
        if !names.insert(def.name.as_str()) {
            return Err(fail(
                format!("rule name `{}` is used more than once", def.name),
                "name",
            ));
        }
        let status = rule_status(def).map_err(|m| fail(m, "status"))?;
        let mode = def.mode.unwrap_or(Mode::Enforce);
        // An empty `unless` reads as "exempt everyone" to some and "exempt no one" to others:
        // refuse it, as an empty list under `when` is refused.
        if def.unless.as_ref().is_some_and(|u| u.is_empty()) {
            return Err(fail(
                "`unless` is empty, so it is unclear whom it exempts; remove it or give it conditions"
                    .to_owned(),
                "unless",
            ));
        }
        let unless = def.unless.as_ref();
        layout.add_rule(id, def.effect, mode, unless.is_some());

        let when_place = Place {
            cx: &cx,
            rule_index: i,
            rule: &def.name,
            clause: Clause::When,
            grants: def.effect == Effect::Allow,
            bit: layout.when_bit(id),
        };
        let when = conditions(&mut b, &def.when, &when_place)?;
        let unless = match unless {
            Some(u) => {
                let place = Place {
                    cx: &cx,
                    rule_index: i,
                    rule: &def.name,
                    clause: Clause::Unless,
                    grants: def.effect == Effect::Forbid,
                    bit: layout.unless_bit(id),
                };
                conditions(&mut b, u, &place)?
            }
            None => Vec::new(),
        };
        rules.push(Rule {
            id,
            name: def.name.clone(),
            effect: def.effect,
            status,
            mode,
            location,
            description: def.description.clone(),
            when,
            unless,
        });
    }
    Ok(Compiled {
        rules,
        layout,
        builders: b,
    })
}

fn check_rule_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a rule needs a non-empty `name`".to_owned());
    }
    if name.trim() != name || name.chars().any(char::is_control) || name.contains('"') {
        return Err(format!(
            "rule name `{}` must not hold quotes, control characters or stray whitespace",
            name.escape_debug()
        ));
    }
    if name.len() > 256 {
        return Err("rule name is longer than 256 bytes".to_owned());
    }
    // Tests, logs, metrics and counters name the default decision and early refusals so.
    if matches!(name, "default" | "refused") {
        return Err(format!(
            "`{name}` names the {} in tests, logs and metrics; choose another name",
            if name == "default" {
                "policy default"
            } else {
                "requests refused before any rule ran"
            }
        ));
    }
    Ok(())
}

fn rule_status(def: &RuleDef) -> Result<u16, String> {
    match (def.effect, def.status) {
        (Effect::Allow, Some(s)) => Err(format!(
            "`status = {s}` is only for forbid rules; an allowed request gets the backend's answer"
        )),
        (Effect::Allow, None) => Ok(200),
        (Effect::Forbid, None) => Ok(403),
        (Effect::Forbid, Some(s @ (401 | 403 | 404))) => Ok(s),
        (Effect::Forbid, Some(s)) => Err(format!("`status = {s}` must be 401, 403 or 404")),
    }
}

/// Values of one condition key, refusing an empty array.
pub(super) fn values<'v, T>(
    place: &Place<'_>,
    key: &str,
    v: &'v Option<OneOrMany<T>>,
) -> Result<Option<&'v [T]>, PolicyError> {
    match v {
        None => Ok(None),
        Some(OneOrMany(items)) if items.is_empty() => Err(place.error(
            key,
            None,
            key,
            format!(
                "`{key}` is empty, so it could never hold; remove it or give at least one value"
            ),
        )),
        Some(OneOrMany(items)) => Ok(Some(items)),
    }
}

/// Compiles one clause: each condition key in its own function, in a fixed order.
fn conditions(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    out.extend(ip_condition(b, c, place)?);
    out.extend(path_condition(b, c, place)?);
    out.extend(method_condition(b, c, place)?);
    out.extend(host_condition(b, c, place)?);
    out.extend(header_conditions(b, c, place)?);
    out.extend(user_agent_condition(b, c, place)?);
    ident_conditions(b, c, place, &mut out)?;
    super::claims::token_conditions(b, c, place, &mut out)?;
    // INVARIANT: a clause that says something compiles to at least one condition; otherwise
    // no slot would claim its bit and it would hold for every request.
    if !c.is_empty() && out.is_empty() {
        return Err(place.error(
            place.clause.as_str(),
            None,
            place.clause.as_str(),
            format!("`{}` names no condition", place.clause.as_str()),
        ));
    }
    Ok(out)
}
