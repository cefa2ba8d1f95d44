//! Building an explanation: a record of the evaluation that decided, never a second one.

use std::net::IpAddr;

use super::witness::claim_name;
use super::{
    ClientReport, ConditionReport, CredentialReport, DecidedBy, Explanation, NearMiss,
    RequestSummary, RuleSummary,
};
use crate::engine::claims::TokenState;
use crate::engine::client_ip::Derivation;
use crate::engine::evaluate::Evaluation;
use crate::engine::keys::Credentials;
use crate::engine::request::{AsRequestView, RequestView};
use crate::engine::slots::ValueSource;
use crate::engine::verdict::{Cause, RuleId, UnknownClient, Verdict};
use crate::engine::{
    Clause, Condition, ConditionData, ConditionKey, Engine, Rule, Scratch, SlotRef,
};
use crate::vocabulary::Mode;

impl Engine {
    /// Decides `request` and explains the decision in full. Slower than [`Engine::decide`]:
    /// for logs of refusals, tools and tests.
    pub fn explain(&self, request: &impl AsRequestView) -> Explanation {
        let view = request.view();
        self.with_scratch(|s| self.explain_in(&view, s))
    }

    fn explain_in(&self, view: &RequestView<'_>, s: &mut Scratch) -> Explanation {
        let peer = view.peer().map(crate::engine::client_ip::canonical);
        self.evaluate(view, s, |evaluation| match evaluation {
            Ok(evaluation) => {
                let (cause, reported) = evaluation.decide();
                let verdict = evaluation.verdict(cause, reported);
                Record(evaluation).explanation(&verdict, peer)
            }
            Err(refused) => {
                let verdict = self.refused_verdict(&refused);
                Explanation {
                    decision: verdict.decision(),
                    status: verdict.status(),
                    enforced: verdict.enforced(),
                    decided_by: DecidedBy::Refused {
                        refusal: refused.refusal,
                        reason: refused.refusal.to_string(),
                    },
                    client: client_report(
                        peer,
                        refused.client,
                        self.ignored_header(view, refused.client),
                    ),
                    credentials: CredentialReport::None,
                    request: RequestSummary {
                        method: None,
                        path: None,
                        host: None,
                    },
                    reading: None,
                    reported: Vec::new(),
                }
            }
        })
    }

    /// The forwarding header the request carried that was ignored because its peer is not a
    /// trusted proxy: what the request holds, not a second reading of it.
    fn ignored_header(
        &self,
        view: &RequestView<'_>,
        client: Result<(IpAddr, Derivation), UnknownClient>,
    ) -> Option<String> {
        let untrusted = matches!(client, Ok((_, Derivation::UntrustedPeer)));
        let header = self.settings.client_ip.header().filter(|_| untrusted)?;
        let present = view.header_values(header).next().is_some();
        present.then(|| header.to_owned())
    }

    /// Why a request carries no client identity, naming the headers a key is read from.
    fn credential_note(&self, c: Credentials) -> Option<String> {
        match c {
            Credentials::None => {
                let keys = self.callers.keys.as_ref()?;
                let bearer = if keys.bearer {
                    " or `Authorization: Bearer`"
                } else {
                    ""
                };
                Some(format!(
                    "no API key presented (header `{}`{bearer})",
                    keys.header
                ))
            }
            Credentials::Presented { client: None, .. } => {
                Some("an API key was presented but matches no client".to_owned())
            }
            Credentials::Presented {
                client: Some(_), ..
            } => None,
        }
    }

    fn credential_report(&self, c: Credentials) -> CredentialReport {
        match c {
            Credentials::None => CredentialReport::None,
            Credentials::Presented {
                client: Some(id),
                source,
            } => CredentialReport::Client {
                name: self.client_name(id).unwrap_or_default().to_owned(),
                roles: self.client_roles(id).to_vec(),
                source,
            },
            Credentials::Presented {
                client: None,
                source,
            } => CredentialReport::UnknownKey { source },
        }
    }
}

/// An explanation being recorded from the evaluation that decided: every answer it gives is
/// the evaluation's own.
pub(super) struct Record<'e, 'a, 'r>(pub(super) &'e mut Evaluation<'a, 'r>);

impl Record<'_, '_, '_> {
    fn explanation(&mut self, verdict: &Verdict, peer: Option<IpAddr>) -> Explanation {
        let engine = self.0.engine();
        let prepared = self.0.prepared();
        let client = client_report(
            peer,
            prepared.client,
            engine.ignored_header(self.0.view(), prepared.client),
        );
        let credentials = match &prepared.token {
            TokenState::None => engine.credential_report(prepared.credentials),
            TokenState::Invalid(problem) => CredentialReport::InvalidToken {
                problem: (**problem).clone(),
            },
            TokenState::Valid(claims) => CredentialReport::Token {
                issuer: engine
                    .callers
                    .tokens
                    .as_ref()
                    .and_then(|t| t.names.get(claims.issuer.as_usize()))
                    .cloned()
                    .unwrap_or_default(),
                client: claims.client.as_deref().map(str::to_owned),
                scopes: claims.scopes.clone(),
                roles: claims.roles.to_vec(),
            },
        };
        let request = RequestSummary {
            method: Some(String::from_utf8_lossy(self.0.method()).into_owned()),
            path: Some(String::from_utf8_lossy(self.0.path()).into_owned()),
            host: self.0.host().map(str::to_owned),
        };
        let deciding = verdict.rule().and_then(|id| engine.rule(id));
        let decided_by = match (verdict.cause(), deciding) {
            (Cause::Refused(refusal), _) => DecidedBy::Refused {
                refusal,
                reason: refusal.to_string(),
            },
            (_, Some(rule)) => {
                let mut conditions = self.reports(rule, Clause::When);
                let unless = self.reports(rule, Clause::Unless);
                conditions.extend(unless.into_iter().filter(|r| !r.holds));
                DecidedBy::Rule {
                    rule: summary(rule),
                    conditions,
                }
            }
            _ => DecidedBy::Default {
                effect: engine.settings.default,
                nearest: self.nearest(),
            },
        };
        let reading = self.0.reading();
        let reading_note = if reading.method > 0 {
            request
                .method
                .as_ref()
                .map(|m| format!("under method override {m:?}"))
        } else if reading.kept_path {
            Some("with `%2F` kept inside its segment".to_owned())
        } else if reading.host > 0 {
            request
                .host
                .as_ref()
                .map(|h| format!("with host {h:?}, claimed by a forwarding header"))
        } else {
            None
        };
        Explanation {
            decision: verdict.decision(),
            status: verdict.status(),
            enforced: verdict.enforced(),
            decided_by,
            client,
            credentials,
            request,
            reading: reading_note,
            reported: verdict
                .reported()
                .iter()
                .filter_map(|id| engine.rule(id))
                .map(summary)
                .collect(),
        }
    }

    /// The rule that came closest, for a default decision: among the rules that would have
    /// decided otherwise (allow rules under `default = "forbid"`, forbid rules under
    /// `default = "allow"`), one whose path matched before one without a path condition,
    /// before one whose path did not match; then the most `when` conditions met; then file
    /// order.
    fn nearest(&mut self) -> Option<NearMiss> {
        let engine = self.0.engine();
        let mut best: Option<((u8, usize), &Rule)> = None;
        for rule in &engine.rules {
            if rule.mode == Mode::Report
                || rule.effect == engine.settings.default
                || rule.when.is_empty() && rule.unless.is_empty()
            {
                continue;
            }
            let mut met = 0;
            let mut path = 1;
            for c in &rule.when {
                let holds = self.0.condition_holds(c, rule.id, Clause::When);
                met += usize::from(holds);
                if c.key == ConditionKey::Path {
                    path = if holds { 2 } else { 0 };
                }
            }
            // A rule none of whose conditions held says nothing about this request.
            if met == 0 && !rule.when.is_empty() {
                continue;
            }
            let rank = (path, met);
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((rank, rule));
            }
        }
        let ((_, met), rule) = best?;
        let missed: Vec<_> = self
            .reports(rule, Clause::When)
            .into_iter()
            .filter(|r| !r.holds)
            .collect();
        let exempted_by = if missed.is_empty() {
            self.reports(rule, Clause::Unless)
                .into_iter()
                .filter(|r| r.holds)
                .collect()
        } else {
            Vec::new()
        };
        Some(NearMiss {
            rule: summary(rule),
            met,
            total: rule.when.len(),
            missed,
            exempted_by,
        })
    }

    /// The reports of every condition of one clause of a rule.
    fn reports(&mut self, rule: &Rule, clause: Clause) -> Vec<ConditionReport> {
        let conditions = match clause {
            Clause::When => &rule.when,
            Clause::Unless => &rule.unless,
        };
        conditions
            .iter()
            .map(|c| self.report(c, clause, rule.id))
            .collect()
    }

    fn report(&mut self, c: &Condition, clause: Clause, id: RuleId) -> ConditionReport {
        let holds = self.0.condition_holds(c, id, clause);
        let (values, matched) = self.witness(c);
        let engine = self.0.engine();
        let name = match (c.key, c.slot, &c.data) {
            (ConditionKey::Header, SlotRef::Header(i), _) => match engine.slots.headers.get(i) {
                Some(slot) => match &slot.source {
                    ValueSource::Header(name) => Some(name.clone()),
                    _ => None,
                },
                None => None,
            },
            (_, _, ConditionData::Claim(k)) => claim_name(engine, *k).map(str::to_owned),
            _ => None,
        };
        let note = match c.data {
            ConditionData::Ident(_) => engine.credential_note(self.0.prepared().credentials),
            _ => None,
        };
        ConditionReport {
            clause,
            key: c.key,
            name,
            values,
            holds,
            matched: if holds { matched } else { None },
            alternatives: c.written.clone(),
            note,
        }
    }
}

fn summary(r: &Rule) -> RuleSummary {
    RuleSummary {
        name: r.name.clone(),
        effect: r.effect,
        location: r.location.clone(),
    }
}

fn client_report(
    peer: Option<IpAddr>,
    client: Result<(IpAddr, Derivation), UnknownClient>,
    ignored_header: Option<String>,
) -> ClientReport {
    match client {
        Ok((ip, derivation)) => ClientReport {
            ip: Some(ip),
            peer,
            derivation: Some(derivation),
            unknown: None,
            ignored_header,
        },
        Err(u) => ClientReport {
            ip: None,
            peer,
            derivation: None,
            unknown: Some(u),
            ignored_header,
        },
    }
}
