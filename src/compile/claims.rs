//! Token conditions: `issuer`, `scope` and `claim`, compiled into tests of the claim slot.

use super::patterns::{self, GlobKind};
use super::rules::{values, Builders, Place};
use crate::engine::claims::{ClaimMatcher, ClaimTest};
use crate::engine::globs::{GlobMatcher, GlobMode};
use crate::engine::{Condition, ConditionData, ConditionKey, SlotRef};
use crate::error::PolicyError;
use crate::policy::model::{ClaimMatcherDef, Conditions, OneOrMany, ScopeDef};

/// `issuer`, `scope` and `claim`: tests of the claim slot, one condition each (one per claim
/// name).
pub(super) fn token_conditions(
    b: &mut Builders,
    c: &Conditions,
    place: &Place<'_>,
    out: &mut Vec<Condition>,
) -> Result<(), PolicyError> {
    let used = c.issuer.is_some() || c.scope.is_some() || c.claim.is_some();
    let Some(tokens) = place.cx.tokens.filter(|_| used) else {
        if used {
            let key = if c.issuer.is_some() {
                "issuer"
            } else if c.scope.is_some() {
                "scope"
            } else {
                "claim"
            };
            return Err(place.error(
                key,
                None,
                key,
                format!("`{key}` reads bearer tokens, but the policy has no `[tokens]` issuers"),
            ));
        }
        return Ok(());
    };
    let mut push = |b: &mut Builders, key: ConditionKey, written: Vec<String>, test: ClaimTest| {
        let k = b.claims.add(place.bit, test);
        out.push(Condition {
            key,
            slot: SlotRef::Claims,
            written,
            data: ConditionData::Claim(k),
        });
    };
    if let Some(items) = values(place, "issuer", &c.issuer)? {
        let mut ids = Vec::new();
        for (j, name) in items.iter().enumerate() {
            let Some(i) = tokens.names.iter().position(|n| n == name) else {
                return Err(place.error(
                    "issuer",
                    Some(j),
                    name,
                    format!(
                        "unknown issuer `{name}` (issuers are defined under `[tokens.issuers]`)"
                    ),
                ));
            };
            ids.push(
                crate::engine::ids::IssuerId::new(i).ok_or_else(|| super::too_many("issuers"))?,
            );
        }
        push(
            b,
            ConditionKey::Issuer,
            items.to_vec(),
            ClaimTest::Issuer(ids),
        );
    }
    if let Some(scope) = &c.scope {
        let (any, scopes) = match scope {
            ScopeDef::All(OneOrMany(s)) => (false, s.clone()),
            ScopeDef::Any { any } => (true, any.clone()),
        };
        if scopes.is_empty() {
            return Err(place.error(
                "scope",
                None,
                "scope",
                "`scope` is empty, so it could never hold; remove it or name a scope".to_owned(),
            ));
        }
        if let Some(bad) = scopes
            .iter()
            .find(|s| s.is_empty() || s.chars().any(|ch| ch.is_whitespace() || ch.is_control()))
        {
            return Err(place.error(
                "scope",
                None,
                bad,
                format!("scope `{}` must be one word", bad.escape_debug()),
            ));
        }
        push(
            b,
            ConditionKey::Scope,
            scopes.clone(),
            ClaimTest::Scope { any, scopes },
        );
    }
    if let Some(claims) = &c.claim {
        if claims.is_empty() {
            return Err(place.error(
                "claim",
                None,
                "claim",
                "`claim` is empty, so it could never hold; name at least one claim".to_owned(),
            ));
        }
        for (name, matchers) in claims {
            if name.is_empty() || matchers.0.is_empty() {
                return Err(place.error(
                    "claim",
                    None,
                    name,
                    format!("claim `{name}` needs a name and at least one value"),
                ));
            }
            let mut compiled = Vec::new();
            let mut written = Vec::new();
            for m in &matchers.0 {
                let (matcher, shown) = match m {
                    ClaimMatcherDef::Text(t) => (ClaimMatcher::Text(t.clone()), format!("{t:?}")),
                    ClaimMatcherDef::Number(n) => (ClaimMatcher::Number(*n), n.to_string()),
                    ClaimMatcherDef::Bool(v) => (ClaimMatcher::Bool(*v), v.to_string()),
                    ClaimMatcherDef::Glob(g) => {
                        let err = |m: String| {
                            place.error("claim", None, name, format!("claim `{name}`: {m}"))
                        };
                        let globs = patterns::globs(g, GlobKind::HeaderValue).map_err(err)?;
                        let mode = GlobMode::Text {
                            case_sensitive: true,
                        };
                        let matcher = GlobMatcher::build(&globs, mode).map_err(err)?;
                        (ClaimMatcher::Glob(Box::new(matcher)), format!("glob {g:?}"))
                    }
                };
                compiled.push(matcher);
                written.push(shown);
            }
            let claim = b.claims.claim(name);
            let test = ClaimTest::Claim {
                claim,
                matchers: compiled,
            };
            let k = b.claims.add(place.bit, test);
            out.push(Condition {
                key: ConditionKey::Claim,
                slot: SlotRef::Claims,
                written,
                data: ConditionData::Claim(k),
            });
        }
    }
    Ok(())
}
