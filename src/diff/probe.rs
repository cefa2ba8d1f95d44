//! Which witness values a policy tells apart, asked of the engine itself: for each request
//! attribute, a probe policy holds one report-mode rule per condition on that attribute, so
//! the rules a value makes apply are its signature. Values with one signature in both
//! policies are interchangeable, and only one of them needs trying.

use super::Dim;
use crate::engine::verdict::Cause;
use crate::policy::model::{Conditions, Effect, Mode, RuleDef};
use crate::{Engine, Policy, PolicyError, Reported, Request};

/// The probe engines of one policy for one attribute.
pub(super) struct Probe {
    engines: Vec<Engine>,
}

/// The conditions of `c` that read `dim` alone; `None` if there are none. `key_header` is
/// the policy's key header, which carries the `client`, `role` and `authenticated` answers;
/// with `tokens`, `authorization` carries them too, and the token conditions.
fn only(c: &Conditions, dim: &Dim, key_header: Option<&str>, tokens: bool) -> Option<Conditions> {
    let mut out = Conditions::default();
    match dim {
        Dim::Addr => out.ip = c.ip.clone(),
        Dim::Path => out.path = c.path.clone(),
        Dim::Method => out.method = c.method.clone(),
        Dim::Header(name) => {
            if name == "host" {
                out.host = c.host.clone();
            }
            if name == "user-agent" {
                out.user_agent = c.user_agent.clone();
            }
            let bearer = tokens && name == "authorization";
            if key_header == Some(name.as_str()) || bearer {
                out.client = c.client.clone();
                out.role = c.role.clone();
                out.authenticated = c.authenticated;
            }
            if bearer {
                out.issuer = c.issuer.clone();
                out.scope = c.scope.clone();
                out.claim = c.claim.clone();
            }
            let headers: std::collections::BTreeMap<_, _> = c
                .header
                .iter()
                .flatten()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(n, m)| (n.clone(), m.clone()))
                .collect();
            if !headers.is_empty() {
                out.header = Some(headers);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

impl Probe {
    pub(super) fn new(policy: &Policy, dim: &Dim) -> Result<Probe, PolicyError> {
        let key_header = policy
            .doc
            .keys
            .as_ref()
            .map(|k| k.header.to_ascii_lowercase());
        let tokens = policy.doc.tokens.is_some();
        let mut rules = Vec::new();
        for (i, r) in policy.doc.rules.iter().enumerate() {
            // An `unless` condition of a rule reads values as a `when` condition of the
            // opposite effect does (see the forbid-favouring reading in the architecture).
            let opposite = match r.effect {
                Effect::Allow => Effect::Forbid,
                Effect::Forbid => Effect::Allow,
            };
            let clauses = [
                (Some(&r.when), r.effect, "w"),
                (r.unless.as_ref(), opposite, "u"),
            ];
            for (c, effect, tag) in clauses {
                if let Some(when) = c.and_then(|c| only(c, dim, key_header.as_deref(), tokens)) {
                    rules.push(RuleDef {
                        name: format!("probe-{i}-{tag}"),
                        effect,
                        description: None,
                        status: None,
                        mode: Some(Mode::Report),
                        when,
                        unless: None,
                        lint: None,
                    });
                }
            }
        }
        let mut engines = Vec::new();
        for chunk in rules.chunks(Reported::CAPACITY) {
            let mut probe = policy.clone();
            probe.doc.rules = chunk.to_vec();
            probe.doc.tests.clear();
            probe.doc.policy.default = Effect::Allow;
            probe.doc.policy.mode = Mode::Enforce;
            engines.push(crate::testing::compile(&probe)?);
        }
        Ok(Probe { engines })
    }

    /// Whether any condition reads this attribute.
    pub(super) fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// The rules the request makes apply, as one mask per probe engine (all ones when the
    /// request is refused).
    pub(super) fn signature(&self, request: &Request, out: &mut Vec<u16>) {
        for e in &self.engines {
            let v = e.decide(request);
            out.push(match v.cause() {
                Cause::Refused(_) => u16::MAX,
                _ => v
                    .reported()
                    .iter()
                    .filter_map(|id| e.rule(id).map(|r| r.id().index()))
                    .fold(0u16, |m, i| m | (1 << (i % 16))),
            });
        }
    }
}
