//! Building an explanation: a record of the evaluation that decided, never a second one.

use std::net::IpAddr;

use super::{
    ClientReport, ConditionReport, CredentialReport, DecidedBy, Explanation, NearMiss,
    RequestSummary, RuleSummary,
};
use crate::engine::claims::{ClaimTest, ClaimValue, TokenState};
use crate::engine::client_ip::Derivation;
use crate::engine::evaluate::Evaluation;
use crate::engine::keys::{secrecy, Credentials, Secrecy};
use crate::engine::methods;
use crate::engine::request::{trim_ows, AsRequestView, RequestView};
use crate::engine::slots::{IdentPart, ValueSource};
use crate::engine::verdict::{Cause, RuleId, UnknownClient, Verdict};
use crate::engine::{
    Atom, Clause, Condition, ConditionData, ConditionKey, Engine, PatternRef, Rule, Scratch,
    SlotRef,
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
        let header = self.client_ip.header().filter(|_| untrusted)?;
        let present = view.header_values(header).next().is_some();
        present.then(|| header.to_owned())
    }

    /// Why a request carries no client identity, naming the headers a key is read from.
    fn credential_note(&self, c: Credentials) -> Option<String> {
        match c {
            Credentials::None => {
                let keys = self.keys.as_ref()?;
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
struct Record<'e, 'a, 'r>(&'e mut Evaluation<'a, 'r>);

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
                    .tokens
                    .as_ref()
                    .and_then(|t| t.names.get(claims.issuer as usize))
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
                effect: engine.default,
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
                || rule.effect == engine.default
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
            (ConditionKey::Header, SlotRef::Header(i), _) => match engine.headers.get(i) {
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

    /// What a condition read and which written alternative matched it, for display only.
    fn witness(&self, c: &Condition) -> (Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let prepared = self.0.prepared();
        match &c.data {
            ConditionData::Ip { atoms } => {
                let Ok((ip, _)) = prepared.client else {
                    return (Vec::new(), None);
                };
                let here = engine.ip.as_ref().map_or(&[][..], |slot| slot.atoms_of(ip));
                let matched = atoms
                    .iter()
                    .filter(|a| here.contains(a))
                    .find_map(|&a| match engine.atoms.get(a as usize) {
                        Some(Atom::List(l)) => engine.lists.get(*l).map(|l| format!("@{}", l.name)),
                        Some(Atom::Inline(nets)) => nets
                            .iter()
                            .find(|n| n.contains(&ip))
                            .map(ToString::to_string),
                        None => None,
                    });
                (vec![ip.to_string()], matched)
            }
            ConditionData::Method(methods) => {
                let m = String::from_utf8_lossy(self.0.method()).into_owned();
                let matched = methods.iter().any(|x| x.as_ref() == m.as_bytes()).then(|| {
                    c.written
                        .iter()
                        .find(|w| methods::covered(&w.to_ascii_uppercase()).any(|x| x == m))
                        .cloned()
                        .unwrap_or_else(|| m.clone())
                });
                (vec![m], matched)
            }
            ConditionData::Ident(part) => {
                let client = match prepared.credentials {
                    Credentials::Presented {
                        client: Some(id), ..
                    } => Some(id),
                    _ => None,
                };
                let token = prepared.token.claims().filter(|_| client.is_none());
                match part {
                    IdentPart::Client => {
                        let name = match token {
                            Some(t) => t.client.as_deref().map(str::to_owned),
                            None => client
                                .and_then(|id| engine.client_name(id))
                                .map(str::to_owned),
                        };
                        let matched = name.clone().filter(|n| c.written.contains(n));
                        (name.into_iter().collect(), matched)
                    }
                    IdentPart::Role => {
                        let held = match token {
                            Some(t) => &t.roles[..],
                            None => client.map_or(&[][..], |id| engine.client_roles(id)),
                        };
                        let matched = held.iter().find(|r| c.written.contains(r)).cloned();
                        (held.to_vec(), matched)
                    }
                    IdentPart::Authenticated => {
                        let value = (client.is_some() || token.is_some()).to_string();
                        (vec![value.clone()], Some(value))
                    }
                }
            }
            ConditionData::Value(refs) => self.value_witness(c, refs),
            ConditionData::Claim(k) => self.claim_witness(c, *k),
        }
    }

    /// What an `issuer`, `scope` or `claim` condition read from the verified token.
    fn claim_witness(&self, c: &Condition, k: usize) -> (Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let Some(claims) = self.0.prepared().token.claims() else {
            return (Vec::new(), None);
        };
        let test = engine.claims.as_ref().and_then(|s| s.tests.get(k));
        match test {
            Some((_, ClaimTest::Issuer(_))) => {
                let name = engine
                    .tokens
                    .as_ref()
                    .and_then(|t| t.names.get(claims.issuer as usize))
                    .cloned()
                    .unwrap_or_default();
                let matched = c.written.contains(&name).then(|| name.clone());
                (vec![name], matched)
            }
            Some((_, ClaimTest::Scope { .. })) => {
                let matched = c
                    .written
                    .iter()
                    .find(|w| claims.scopes.contains(w))
                    .cloned();
                (claims.scopes.clone(), matched)
            }
            Some((_, ClaimTest::Claim { claim, .. })) => {
                match claims.named.get(*claim).and_then(Option::as_ref) {
                    Some(value) => {
                        let shown = value.to_string();
                        // The explanation names the first written value the claim holds.
                        let held = |w: &String| match value {
                            ClaimValue::List(items) => items.iter().any(|i| i.to_string() == *w),
                            v => v.to_string() == *w,
                        };
                        let matched = c.written.iter().find(|w| held(w)).cloned();
                        (vec![shown], matched)
                    }
                    None => (Vec::new(), None),
                }
            }
            None => (Vec::new(), None),
        }
    }

    fn value_witness(
        &self,
        c: &Condition,
        refs: &[(PatternRef, usize)],
    ) -> (Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let (slot, values, secret): (_, Vec<Vec<u8>>, bool) = match c.slot {
            SlotRef::Path => (engine.path.as_ref(), vec![self.0.path().to_vec()], false),
            SlotRef::Host => (
                engine.host.as_ref(),
                self.0
                    .host()
                    .map(|h| h.as_bytes().to_vec())
                    .into_iter()
                    .collect(),
                false,
            ),
            SlotRef::Header(i) => {
                let slot = engine.headers.get(i);
                let name = match slot.map(|h| &h.source) {
                    Some(ValueSource::Header(n)) => n.as_str(),
                    _ => "",
                };
                let values = self
                    .0
                    .view()
                    .header_values(name)
                    .map(|v| trim_ows(v).to_vec())
                    .collect();
                let secret = secrecy(name, engine.key_header()) != Secrecy::None;
                (slot, values, secret)
            }
            _ => (None, Vec::new(), false),
        };
        let shown = values
            .iter()
            .map(|v| match std::str::from_utf8(v) {
                _ if secret => "(redacted)".to_owned(),
                Ok(t) if !t.chars().any(|ch| ch.is_control() && ch != '\t') => t.to_owned(),
                _ => "(unreadable)".to_owned(),
            })
            .collect();
        let mut matched = None;
        if let Some(slot) = slot {
            'values: for v in &values {
                let text = std::str::from_utf8(v).unwrap_or("");
                let (globs, regexes) = slot.matching_patterns(text);
                for (r, j) in refs {
                    let hit = match r {
                        PatternRef::Exact(e) => e.as_ref() == v.as_slice(),
                        PatternRef::Glob(g) => globs.contains(g),
                        PatternRef::Regex(x) => regexes.contains(x),
                        PatternRef::Present => true,
                        PatternRef::Absent => false,
                    };
                    if hit {
                        matched = c.written.get(*j).cloned();
                        break 'values;
                    }
                }
            }
            if values.is_empty() {
                matched = refs
                    .iter()
                    .find(|(r, _)| *r == PatternRef::Absent)
                    .map(|_| "absent".to_owned());
            }
        }
        (shown, matched)
    }
}

/// The claim name a `claim` condition reads.
fn claim_name(engine: &Engine, k: usize) -> Option<&str> {
    let slot = engine.claims.as_ref()?;
    match slot.tests.get(k)? {
        (_, ClaimTest::Claim { claim, .. }) => slot.names.get(*claim).map(String::as_str),
        _ => None,
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
