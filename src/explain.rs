//! Explanations: which rule decided, which of its conditions held on which request value, or
//! why no rule applied. Built off the hot path; allocates freely.
//!
//! An explanation never holds an API key or the value of a header that carries one.

use std::fmt;
use std::net::IpAddr;

use crate::engine::client_ip::Derivation;
use crate::engine::evaluate::Evaluation;
use crate::engine::keys::{secrecy, Credentials, KeySource, Secrecy};
use crate::engine::methods;
use crate::engine::request::{trim_ows, AsRequestView, RequestView};
use crate::engine::slots::{IdentPart, ValueSource};
use crate::engine::verdict::{Cause, Decision, Refusal, RuleId, UnknownClient, Verdict};
use crate::engine::{
    Atom, Clause, Condition, ConditionData, Engine, PatternRef, Rule, Scratch, SlotRef,
};
use crate::error::Location;
use crate::policy::model::{Effect, Mode};

/// The whole story of one decision. `Display` renders it as one log line.
///
/// ```
/// use portcullis::{Policy, Request};
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [lists]
///     office = ["203.0.113.0/24"]
///     [[rules]]
///     name = "admin-from-office"
///     effect = "forbid"
///     when = { path = ["/admin/**"] }
///     unless = { ip = ["@office"] }
/// "#)?.compile()?;
///
/// let request = Request::get("/admin/users").peer("198.51.100.7".parse()?);
/// assert_eq!(
///     engine.explain(&request).to_string(),
///     r#"forbidden by rule "admin-from-office" (<policy>:6:5): path "/admin/users" matched "/admin/**"; client 198.51.100.7 is not in list "office""#,
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// Allow or forbidden.
    pub decision: Decision,
    /// The status to answer with (200 when allowed).
    pub status: u16,
    /// False when the policy is in report mode.
    pub enforced: bool,
    /// What decided.
    pub decided_by: DecidedBy,
    /// How the client address was found.
    pub client: ClientReport,
    /// What the request's API key says (never the key).
    pub credentials: CredentialReport,
    /// The request as the engine read it.
    pub request: RequestSummary,
    /// When the request was decided under another reading than the plain one: which.
    pub reading: Option<String>,
    /// Report-mode rules that applied before the decision.
    pub reported: Vec<RuleSummary>,
}

/// A rule named in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSummary {
    /// The rule's name.
    pub name: String,
    /// Its effect.
    pub effect: Effect,
    /// Where it is written.
    pub location: Option<Location>,
}

/// What decided a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DecidedBy {
    /// A rule applied.
    Rule {
        /// The rule.
        rule: RuleSummary,
        /// Its `when` conditions (all held) and its `unless` conditions (at least one did not).
        conditions: Vec<ConditionReport>,
    },
    /// No rule applied.
    Default {
        /// The policy default.
        effect: Effect,
        /// The rule that came closest, and what it missed.
        nearest: Option<NearMiss>,
    },
    /// The request was refused before any rule ran.
    Refused {
        /// Why.
        refusal: Refusal,
        /// The reason in words.
        reason: String,
    },
}

/// The rule that came closest to deciding a default decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NearMiss {
    /// The rule.
    pub rule: RuleSummary,
    /// How many of its `when` conditions held.
    pub met: usize,
    /// How many `when` conditions it has.
    pub total: usize,
    /// The `when` conditions that did not hold.
    pub missed: Vec<ConditionReport>,
    /// When every `when` condition held: the `unless` conditions that exempted the request.
    pub exempted_by: Vec<ConditionReport>,
}

/// One condition checked against the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConditionReport {
    /// `when` or `unless`.
    pub clause: Clause,
    /// What was read: `path`, `method`, `client`, `header x-env`, ...
    pub subject: String,
    /// The request values read: none when absent; `(redacted)` for headers that carry
    /// credentials, `(unreadable)` for values that are not text.
    pub values: Vec<String>,
    /// Whether the condition held.
    pub holds: bool,
    /// The alternative that matched, when it held.
    pub matched: Option<String>,
    /// All alternatives, as written.
    pub alternatives: Vec<String>,
}

/// How the client address was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientReport {
    /// The client address, when known.
    pub ip: Option<IpAddr>,
    /// The TCP peer.
    pub peer: Option<IpAddr>,
    /// Where the address came from.
    pub derivation: Option<Derivation>,
    /// Why it is unknown, when it is.
    pub unknown: Option<UnknownClient>,
}

/// What the request's API key says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CredentialReport {
    /// No key was presented (or keys were not read).
    None,
    /// The key belongs to a client.
    Client {
        /// The client's name.
        name: String,
        /// Its roles.
        roles: Vec<String>,
        /// Where the key was found.
        source: KeySource,
    },
    /// A key was presented but matches no client: the request is unauthenticated.
    UnknownKey {
        /// Where the key was found.
        source: KeySource,
    },
}

/// The request as the engine read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestSummary {
    /// The method (upper-cased), when it could be read.
    pub method: Option<String>,
    /// The decoded path, when it could be read.
    pub path: Option<String>,
    /// The normalised host, when there is one.
    pub host: Option<String>,
}

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
                    client: client_report(peer, refused.client),
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

    fn summary(&self, id: RuleId) -> RuleSummary {
        let r = self.rule(id);
        RuleSummary {
            name: r.name.clone(),
            effect: r.effect,
            location: r.location.clone(),
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
        let (client, credentials) = (
            client_report(peer, prepared.client),
            engine.credential_report(prepared.credentials),
        );
        let request = RequestSummary {
            method: Some(String::from_utf8_lossy(self.0.method()).into_owned()),
            path: Some(String::from_utf8_lossy(self.0.path()).into_owned()),
            host: self.0.host().map(str::to_owned),
        };
        let decided_by = match verdict.cause() {
            Cause::Refused(refusal) => DecidedBy::Refused {
                refusal,
                reason: refusal.to_string(),
            },
            Cause::Rule(id) => {
                let rule = engine.rule(id);
                let mut conditions = self.reports(rule, Clause::When);
                let unless = self.reports(rule, Clause::Unless);
                conditions.extend(unless.into_iter().filter(|r| !r.holds));
                DecidedBy::Rule {
                    rule: engine.summary(id),
                    conditions,
                }
            }
            Cause::Default => DecidedBy::Default {
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
                .map(|id| engine.summary(id))
                .collect(),
        }
    }

    /// The rule that came closest, for a default decision.
    fn nearest(&mut self) -> Option<NearMiss> {
        let engine = self.0.engine();
        let mut best: Option<(usize, &Rule)> = None;
        for rule in &engine.rules {
            if rule.mode == Mode::Report || rule.when.is_empty() && rule.unless.is_empty() {
                continue;
            }
            let met = rule
                .when
                .iter()
                .filter(|c| self.0.condition_holds(c, rule.id, Clause::When))
                .count();
            // A rule none of whose conditions held says nothing about this request.
            if met == 0 && !rule.when.is_empty() {
                continue;
            }
            if best.is_none_or(|(m, _)| met > m) {
                best = Some((met, rule));
            }
        }
        let (met, rule) = best?;
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
            rule: engine.summary(rule.id),
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
        let (subject, values, matched) = self.witness(c);
        ConditionReport {
            clause,
            subject,
            values,
            holds,
            matched: if holds { matched } else { None },
            alternatives: c.written.clone(),
        }
    }

    /// What a condition read and which written alternative matched it, for display only.
    fn witness(&self, c: &Condition) -> (String, Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let prepared = self.0.prepared();
        match &c.data {
            ConditionData::Ip { atoms } => {
                let Ok((ip, _)) = prepared.client else {
                    return ("client".into(), Vec::new(), None);
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
                ("client".into(), vec![ip.to_string()], matched)
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
                ("method".into(), vec![m], matched)
            }
            ConditionData::Ident(part) => {
                let client = match prepared.credentials {
                    Credentials::Presented {
                        client: Some(id), ..
                    } => Some(id),
                    _ => None,
                };
                match part {
                    IdentPart::Client => {
                        let name = client
                            .and_then(|id| engine.client_name(id))
                            .map(str::to_owned);
                        ("api client".into(), name.iter().cloned().collect(), name)
                    }
                    IdentPart::Role => {
                        let held = client.map_or(&[][..], |id| engine.client_roles(id));
                        let matched = held.iter().find(|r| c.written.contains(r)).cloned();
                        ("roles".into(), held.to_vec(), matched)
                    }
                    IdentPart::Authenticated => {
                        let value = client.is_some().to_string();
                        ("authenticated".into(), vec![value.clone()], Some(value))
                    }
                }
            }
            ConditionData::Value(refs) => self.value_witness(c, refs),
        }
    }

    fn value_witness(
        &self,
        c: &Condition,
        refs: &[(PatternRef, usize)],
    ) -> (String, Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let (slot, subject, values, secret): (_, String, Vec<Vec<u8>>, bool) = match c.slot {
            SlotRef::Path => (
                engine.path.as_ref(),
                "path".into(),
                vec![self.0.path().to_vec()],
                false,
            ),
            SlotRef::Host => (
                engine.host.as_ref(),
                "host".into(),
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
                let subject = if c.key == "user_agent" {
                    "user-agent".to_owned()
                } else {
                    format!("header {name}")
                };
                let secret = secrecy(name, engine.key_header()) != Secrecy::None;
                (slot, subject, values, secret)
            }
            _ => (None, String::new(), Vec::new(), false),
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
        (subject, shown, matched)
    }
}

fn client_report(
    peer: Option<IpAddr>,
    client: Result<(IpAddr, Derivation), UnknownClient>,
) -> ClientReport {
    match client {
        Ok((ip, derivation)) => ClientReport {
            ip: Some(ip),
            peer,
            derivation: Some(derivation),
            unknown: None,
        },
        Err(u) => ClientReport {
            ip: None,
            peer,
            derivation: None,
            unknown: Some(u),
        },
    }
}

impl ConditionReport {
    /// An alternative as the reader should see it.
    fn show_alternative(&self, a: &str) -> String {
        match self.subject.as_str() {
            "client" => match a.strip_prefix('@') {
                Some(list) => format!("list {list:?}"),
                None => format!("{a:?}"),
            },
            // Header matchers are written out already (`"prod"`, `glob "pr*"`, `present`).
            s if s.starts_with("header") => a.to_owned(),
            "authenticated" => a.to_owned(),
            _ => format!("{a:?}"),
        }
    }

    fn show_values(&self) -> String {
        if self.values.is_empty() {
            return match self.subject.as_str() {
                "client" => "(unknown)",
                "api client" => "(none)",
                "roles" => "(none)",
                _ => "(absent)",
            }
            .to_owned();
        }
        let plain = matches!(self.subject.as_str(), "client" | "authenticated");
        self.values
            .iter()
            .map(|v| {
                if plain || v.starts_with('(') {
                    v.clone()
                } else {
                    format!("{v:?}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ConditionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.show_values();
        let alts: Vec<String> = self
            .alternatives
            .iter()
            .map(|a| self.show_alternative(a))
            .collect();
        let matched = self.matched.as_deref().map(|m| self.show_alternative(m));
        match self.subject.as_str() {
            "client" if self.values.is_empty() && self.holds => {
                write!(f, "client address unknown, read as in {}", alts.join(", "))
            }
            "client" => match (matched, self.holds) {
                (Some(m), true) => write!(f, "client {value} is in {m}"),
                (None, true) => write!(f, "client {value} is in {}", alts.join(", ")),
                (_, false) if alts.len() == 1 => {
                    write!(f, "client {value} is not in {}", alts.join(""))
                }
                (_, false) => write!(f, "client {value} is not in any of {}", alts.join(", ")),
            },
            "authenticated" if self.holds => write!(f, "authenticated is {value}"),
            "authenticated" => write!(f, "authenticated is {value}, not {}", alts.join("")),
            subject => match (matched, self.holds) {
                (Some(m), true) => write!(f, "{subject} {value} matched {m}"),
                (None, true) => write!(f, "{subject} {value} holds"),
                (_, false) if alts.len() == 1 => {
                    write!(f, "{subject} {value} did not match {}", alts.join(""))
                }
                (_, false) => write!(f, "{subject} {value} matched none of {}", alts.join(", ")),
            },
        }
    }
}

impl fmt::Display for RuleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {:?}", self.name)?;
        if let Some(loc) = &self.location {
            write!(f, " ({loc})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.decision {
            Decision::Allow => "allowed".to_owned(),
            Decision::Forbidden if self.status == 403 => "forbidden".to_owned(),
            Decision::Forbidden => format!("forbidden ({})", self.status),
        };
        match &self.decided_by {
            DecidedBy::Rule { rule, conditions } => {
                write!(f, "{verb} by {rule}")?;
                let parts: Vec<String> = conditions.iter().map(ToString::to_string).collect();
                if !parts.is_empty() {
                    write!(f, ": {}", parts.join("; "))?;
                }
            }
            DecidedBy::Default { effect, nearest } => {
                write!(f, "{verb} by default ({effect}): no rule applied")?;
                if let Some(n) = nearest {
                    write!(
                        f,
                        "; nearest {} met {} of {} conditions",
                        n.rule, n.met, n.total
                    )?;
                    let missed: Vec<String> = n.missed.iter().map(ToString::to_string).collect();
                    if !missed.is_empty() {
                        write!(f, ": {}", missed.join("; "))?;
                    }
                    let exempt: Vec<String> =
                        n.exempted_by.iter().map(ToString::to_string).collect();
                    if !exempt.is_empty() {
                        write!(f, ", but was exempted: {}", exempt.join("; "))?;
                    }
                }
            }
            DecidedBy::Refused { reason, .. } => write!(f, "{verb} before any rule: {reason}")?,
        }
        if let Some(r) = &self.reading {
            write!(f, " ({r})")?;
        }
        match (
            &self.client.derivation,
            self.client.ip,
            &self.client.unknown,
        ) {
            (Some(Derivation::Header { header, hop }), Some(ip), _) => {
                write!(f, "; client {ip} from {header} hop {hop}")?;
                if let Some(peer) = self.client.peer {
                    write!(f, " (peer {peer} is a trusted proxy)")?;
                }
            }
            (_, None, Some(u)) if !matches!(self.decided_by, DecidedBy::Refused { .. }) => {
                write!(f, "; client address unknown: {u}")?;
            }
            _ => {}
        }
        if let CredentialReport::UnknownKey { .. } = self.credentials {
            write!(f, "; an API key was presented but matches no client")?;
        }
        for r in &self.reported {
            let would = match r.effect {
                Effect::Forbid => "would forbid",
                Effect::Allow => "would allow",
            };
            write!(f, "; report-mode {r} {would}")?;
        }
        if !self.enforced {
            write!(f, " [policy in report mode: not enforced]")?;
        }
        Ok(())
    }
}

impl Explanation {
    /// The name of the deciding rule, if a rule decided.
    pub fn rule_name(&self) -> Option<&str> {
        match &self.decided_by {
            DecidedBy::Rule { rule, .. } => Some(&rule.name),
            _ => None,
        }
    }
}
