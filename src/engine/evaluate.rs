//! The one evaluation path: a request prepared once, then read under each of its readings,
//! slot by slot.
//!
//! [`Engine::decide`], [`Engine::explain`](crate::Engine::explain) and coverage all ask an
//! [`Evaluation`] whether a slot, a condition or a clause holds, and on which value: an
//! explanation is a record of the evaluation that decided, never a second evaluation.

use std::net::IpAddr;

use super::bits;
use super::claims::{ClaimSlot, ClaimView, TokenState};
use super::client_ip::Derivation;
use super::keys::Credentials;
use super::path::PathBuffers;
use super::request::RequestView;
use super::slots::{IdentPart, Identity};
use super::verdict::{
    Cause, Challenge, Decision, Refusal, Reported, RuleId, UnknownClient, Verdict,
};
use super::{
    Clause, Condition, ConditionData, Engine, Prepared, Reading, Scratch, SlotRef,
    MAX_METHOD_READINGS,
};
use crate::vocabulary::{Effect, Mode};

/// A request refused before any rule ran.
pub(crate) struct Refused {
    pub(crate) refusal: Refusal,
    /// The client address, as far as it could be found.
    pub(crate) client: Result<(IpAddr, Derivation), UnknownClient>,
}

/// What a condition's answer is read from: its slot's bits, or for an identity condition the
/// part of the identity slot that holds exactly that condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Slot(SlotRef),
    Ident(IdentPart),
    /// One test of the claim slot.
    Claim(usize),
}

/// One request being evaluated: the engine, the request read strictly once, the reading
/// under consideration, the thread's scratch buffers and, for explanations, each slot's bits
/// for the current reading.
pub(crate) struct Evaluation<'a, 'r> {
    engine: &'a Engine,
    view: &'a RequestView<'r>,
    prepared: &'a Prepared,
    reading: Reading,
    scratch: &'a mut Scratch,
    /// Whether the request has several readings: the slots that do not depend on the reading
    /// are then computed once per request.
    several_readings: bool,
    /// The bits of single sources for the current reading, filled on demand (explanations).
    sources: Vec<(Source, Vec<u64>)>,
    /// Which tests of the claim slot are read.
    claim_view: ClaimView,
}

impl Engine {
    /// Reads the request strictly and hands its evaluation to `then`, or says why it is
    /// refused. The evaluation lives in this frame: the hot path moves nothing large.
    pub(crate) fn evaluate<T>(
        &self,
        view: &RequestView<'_>,
        scratch: &mut Scratch,
        then: impl FnOnce(Result<&mut Evaluation<'_, '_>, Refused>) -> T,
    ) -> T {
        let prepared = match self.prepare(view, scratch) {
            Ok(p) => p,
            Err(refusal) => {
                return then(Err(Refused {
                    refusal,
                    client: self.settings.client_ip.derive(view),
                }))
            }
        };
        let several_readings = prepared.methods > 1 || prepared.two_paths || prepared.hosts > 1;
        if several_readings {
            scratch.cached.clear();
            scratch.cached.resize(self.plan.len(), false);
        }
        then(Ok(&mut Evaluation {
            engine: self,
            view,
            prepared: &prepared,
            reading: Reading::default(),
            scratch,
            several_readings,
            sources: Vec::new(),
            claim_view: ClaimView::All,
        }))
    }

    pub(crate) fn decide_in(&self, view: &RequestView<'_>, s: &mut Scratch) -> Verdict {
        self.evaluate(view, s, |evaluation| match evaluation {
            Ok(evaluation) => {
                let (cause, reported) = evaluation.decide();
                evaluation.verdict(cause, reported)
            }
            Err(refused) => self.refused_verdict(&refused),
        })
    }

    /// Decides a request, and keeps what `keep` takes from the request as it was read (the
    /// default when it was refused before any rule ran).
    #[inline]
    pub(crate) fn decide_keeping<K: Default>(
        &self,
        view: &RequestView<'_>,
        s: &mut Scratch,
        keep: impl FnOnce(&Prepared) -> K,
    ) -> (Verdict, K) {
        self.evaluate(view, s, |evaluation| match evaluation {
            Ok(evaluation) => {
                let (cause, reported) = evaluation.decide();
                let kept = keep(evaluation.prepared);
                (evaluation.verdict(cause, reported), kept)
            }
            Err(refused) => (self.refused_verdict(&refused), K::default()),
        })
    }

    /// The verdict for a request refused before any rule ran.
    pub(crate) fn refused_verdict(&self, refused: &Refused) -> Verdict {
        Verdict {
            decision: Decision::Forbidden,
            status: refused.refusal.status(),
            cause: Cause::Refused(refused.refusal),
            client_ip: refused.client.ok().map(|(ip, _)| ip),
            client: None,
            reported: Reported::default(),
            enforced: self.settings.mode == Mode::Enforce,
            challenge: None,
        }
    }

    /// Every rule (enforcing or not) that applies to the request under any of its readings:
    /// for coverage reports. Allocates; not for the hot path.
    pub(crate) fn applying_rules(&self, view: &RequestView<'_>) -> Vec<RuleId> {
        self.with_scratch(|s| {
            self.evaluate(view, s, |evaluation| {
                let Ok(evaluation) = evaluation else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                for reading in evaluation.prepared.readings() {
                    evaluation.set_reading(reading);
                    evaluation.and_reading();
                    let acc = &evaluation.scratch.acc;
                    for rule in &self.rules {
                        if self.masks.clauses.applies(acc, rule.id) && !out.contains(&rule.id) {
                            out.push(rule.id);
                        }
                    }
                }
                out
            })
        })
    }
}

impl<'a, 'r> Evaluation<'a, 'r> {
    /// Decides: the combining rule over every reading, stopping at the first that forbids (a
    /// request is allowed only if every reading of it is). Leaves the deciding reading current.
    pub(crate) fn decide(&mut self) -> (Cause, Reported) {
        let engine = self.engine;
        let mut chosen: Option<(Cause, Reading)> = None;
        let mut reported = Reported::default();
        for reading in self.prepared.readings() {
            self.reading = reading;
            self.and_reading();
            let cause = engine.combine_bits(&self.scratch.acc, &mut reported);
            let forbids = engine.effect_of(cause) == Effect::Forbid;
            if chosen.is_none() || forbids {
                chosen = Some((cause, reading));
            }
            if forbids {
                break;
            }
        }
        let (cause, reading) = chosen.unwrap_or((Cause::Default, Reading::default()));
        self.set_reading(reading);
        (cause, reported)
    }

    /// The verdict for a cause this evaluation found.
    pub(crate) fn verdict(&mut self, cause: Cause, reported: Reported) -> Verdict {
        let engine = self.engine;
        let (decision, status) = match cause {
            Cause::Rule(id) => match engine.rules.get(id.index()) {
                Some(rule) if rule.effect == Effect::Allow => (Decision::Allow, 200),
                Some(rule) => (Decision::Forbidden, rule.status),
                None => (Decision::Forbidden, 403),
            },
            Cause::Default if engine.settings.default == Effect::Allow => (Decision::Allow, 200),
            _ => (Decision::Forbidden, 403),
        };
        let (status, challenge) =
            if decision == Decision::Forbidden && engine.callers.tokens.is_some() {
                self.challenge(cause, status)
            } else {
                (status, None)
            };
        Verdict {
            decision,
            status,
            cause,
            client_ip: self.prepared.client.ok().map(|(ip, _)| ip),
            client: match self.prepared.credentials {
                Credentials::Presented { client, .. } => client,
                Credentials::None => None,
            },
            reported,
            enforced: engine.settings.mode == Mode::Enforce,
            challenge,
        }
    }

    /// For a forbidden request when the policy reads tokens: the bearer challenge and the
    /// status it comes with (RFC 6750). A token that did not verify makes a 403 a 401; no
    /// credentials at all where the default forbade is a 401; a valid token that lacks only
    /// a scope (the request would be allowed, under the deciding reading, were every `scope`
    /// condition to hold) is a 403 `insufficient_scope`.
    fn challenge(&mut self, cause: Cause, status: u16) -> (u16, Option<Challenge>) {
        let engine = self.engine;
        match &self.prepared.token {
            TokenState::Invalid(problem) if status == 403 => {
                (401, Some(Challenge::InvalidToken(problem.fault())))
            }
            TokenState::None
                if cause == Cause::Default && self.prepared.credentials == Credentials::None =>
            {
                (401, Some(Challenge::Missing))
            }
            TokenState::Valid(_)
                if engine
                    .slots
                    .claims
                    .as_ref()
                    .is_some_and(ClaimSlot::has_scope_tests) =>
            {
                self.claim_view = ClaimView::ScopesGranted;
                self.and_reading();
                self.claim_view = ClaimView::All;
                let granted = engine.combine_bits(&self.scratch.acc, &mut Reported::default());
                let allowed = engine.effect_of(granted) == Effect::Allow;
                // Leave the deciding reading's own bits behind, as a decision does.
                self.and_reading();
                (status, allowed.then_some(Challenge::InsufficientScope))
            }
            _ => (status, None),
        }
    }

    /// Makes `reading` the current reading.
    pub(crate) fn set_reading(&mut self, reading: Reading) {
        self.reading = reading;
        self.sources.clear();
    }

    /// The engine evaluating.
    pub(crate) fn engine(&self) -> &'a Engine {
        self.engine
    }

    /// The request as given.
    pub(crate) fn view(&self) -> &'a RequestView<'r> {
        self.view
    }

    /// The request as read strictly.
    pub(crate) fn prepared(&self) -> &'a Prepared {
        self.prepared
    }

    /// The current reading.
    pub(crate) fn reading(&self) -> Reading {
        self.reading
    }

    /// The method under the current reading (upper-cased).
    pub(crate) fn method(&self) -> &[u8] {
        method_of(&self.scratch.methods, self.reading)
    }

    /// The path under the current reading.
    pub(crate) fn path(&self) -> &[u8] {
        path_of(&self.scratch.paths, self.reading)
    }

    /// The host under the current reading, when the request names one.
    pub(crate) fn host(&self) -> Option<&str> {
        host_of(&self.scratch.hosts, self.prepared.hosts, self.reading)
    }

    /// Whether one condition of a rule's clause holds under the current reading, read from
    /// the same slot bits a decision computes.
    pub(crate) fn condition_holds(&mut self, c: &Condition, rule: RuleId, clause: Clause) -> bool {
        let source = match c.data {
            ConditionData::Ident(part) => Source::Ident(part),
            ConditionData::Claim(k) => Source::Claim(k),
            _ => Source::Slot(c.slot),
        };
        let layout = self.engine.masks.clauses;
        layout.holds(self.source_bits(source), rule, clause)
    }

    /// The bits of one source alone for the current reading (all ones where it says nothing).
    fn source_bits(&mut self, source: Source) -> &[u64] {
        let at = match self.sources.iter().position(|(s, _)| *s == source) {
            Some(at) => at,
            None => {
                let engine = self.engine;
                let mut bits = vec![u64::MAX; engine.masks.clauses.words()];
                match source {
                    Source::Slot(slot) => self.and_slot(slot, &mut bits),
                    Source::Ident(part) => {
                        if let Some(ident) = &engine.slots.ident {
                            let p = self.prepared;
                            let who = Identity::of(p.credentials, p.token.claims());
                            ident.and_part_into(part, &mut bits, who, &mut self.scratch.key_bits);
                        }
                    }
                    Source::Claim(k) => {
                        if let Some(slot) = &engine.slots.claims {
                            let claims = self.prepared.token.claims();
                            let view = ClaimView::One(k);
                            slot.and_into(&mut bits, claims, view, &mut self.scratch.slot);
                        }
                    }
                }
                self.sources.push((source, bits));
                self.sources.len() - 1
            }
        };
        self.sources
            .get(at)
            .map_or(&[], |(_, bits)| bits.as_slice())
    }

    /// `scratch.acc` = the clause bits of the current reading: every slot ANDed in, in plan
    /// order.
    ///
    /// A slot is read only while some rule it has a condition for may still apply; skipping it
    /// leaves wrong bits only for rules that already cannot apply. With several readings, the
    /// slots that do not depend on the reading are computed once per request, on first need.
    fn and_reading(&mut self) {
        let engine = self.engine;
        let mut acc = std::mem::take(&mut self.scratch.acc);
        acc.clear();
        acc.extend_from_slice(engine.masks.exists.words());
        for (k, step) in engine.plan.iter().enumerate() {
            let alive = acc
                .iter()
                .zip(step.mentions.words())
                .fold(0, |any, (a, m)| any | (a & m));
            if alive == 0 {
                continue;
            }
            if self.several_readings && step.slot.is_per_request() {
                self.and_cached(k, step.slot, &mut acc);
            } else {
                self.and_slot(step.slot, &mut acc);
            }
        }
        self.scratch.acc = acc;
    }

    /// `acc &=` the bits of plan step `k`, a slot that reads the same for every reading:
    /// computed into the request's cache on the first reading that needs them.
    fn and_cached(&mut self, k: usize, slot: SlotRef, acc: &mut [u64]) {
        let at = k * acc.len()..(k + 1) * acc.len();
        let mut cache = std::mem::take(&mut self.scratch.cache);
        if cache.len() < at.end {
            cache.resize(at.end, u64::MAX);
        }
        let filled = self
            .scratch
            .cached
            .get_mut(k)
            .is_some_and(|f| std::mem::replace(f, true));
        if let Some(bits) = cache.get_mut(at) {
            if !filled {
                bits.fill(u64::MAX);
                self.and_slot(slot, bits);
            }
            bits::and_into(acc, bits);
        }
        self.scratch.cache = cache;
    }

    /// `acc &=` one slot's bits for the current reading (all ones where the slot says
    /// nothing). What decisions and explanations both run.
    fn and_slot(&mut self, slot: SlotRef, acc: &mut [u64]) {
        let engine = self.engine;
        let s = &mut *self.scratch;
        let (p, reading, view) = (self.prepared, self.reading, self.view);
        let favouring = engine.masks.forbid_favouring.words();
        match slot {
            SlotRef::Ip => {
                if let Some(ip) = &engine.slots.ip {
                    ip.and_into(acc, p.client.ok().map(|(a, _)| a), &mut s.key_bits);
                }
            }
            SlotRef::Method => {
                if let Some(m) = &engine.slots.method {
                    m.and_into(acc, method_of(&s.methods, reading));
                }
            }
            SlotRef::Ident => {
                if let Some(i) = &engine.slots.ident {
                    let who = Identity::of(p.credentials, p.token.claims());
                    i.and_into(acc, who, &mut s.key_bits);
                }
            }
            SlotRef::Claims => {
                if let Some(c) = &engine.slots.claims {
                    c.and_into(acc, p.token.claims(), self.claim_view, &mut s.slot);
                }
            }
            SlotRef::Path => {
                if let Some(path) = &engine.slots.path {
                    let value = path_of(&s.paths, reading);
                    path.and_into(acc, favouring, view, Some(value), &mut s.slot);
                }
            }
            SlotRef::Host => {
                if let Some(host) = &engine.slots.host {
                    let value = host_of(&s.hosts, p.hosts, reading).map(str::as_bytes);
                    host.and_into(acc, favouring, view, value, &mut s.slot);
                }
            }
            SlotRef::Header(i) => {
                if let Some(h) = engine.slots.headers.get(i) {
                    h.and_into(acc, favouring, view, None, &mut s.slot);
                }
            }
        }
    }
}

fn method_of(methods: &[Vec<u8>; MAX_METHOD_READINGS], reading: Reading) -> &[u8] {
    methods.get(reading.method).map_or(&[][..], Vec::as_slice)
}

fn path_of(paths: &PathBuffers, reading: Reading) -> &[u8] {
    if reading.kept_path {
        &paths.kept
    } else {
        &paths.decoded
    }
}

fn host_of(hosts: &[String], count: usize, reading: Reading) -> Option<&str> {
    (count > 0)
        .then(|| hosts.get(reading.host))
        .flatten()
        .map(String::as_str)
}
