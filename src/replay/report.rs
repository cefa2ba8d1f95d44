//! What a replay found, as data: outcomes, changes, clients and unparsed lines.

use std::collections::BTreeMap;

use crate::engine::verdict::Cause;
use crate::{Engine, Verdict};

/// How a request was answered: the decision, its status, and what decided.
///
/// ```
/// use portcullis::replay::Outcome;
/// use portcullis::{Policy, Request};
///
/// let engine = Policy::from_toml("[policy]\ndefault = \"forbid\"")?.compile()?;
/// let verdict = engine.decide(&Request::get("/").peer("192.0.2.1".parse()?));
/// let outcome = Outcome::of(&engine, &verdict);
/// assert_eq!(outcome.to_string(), "forbidden (403) by default");
/// assert_eq!(outcome.rule, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Outcome {
    /// `allow` or `forbidden`.
    pub decision: &'static str,
    /// The status the answer carries.
    pub status: u16,
    /// The deciding rule; `None` for the default or a refusal.
    pub rule: Option<String>,
    /// Why the request was refused before any rule ran, if it was.
    pub refusal: Option<String>,
}

impl Outcome {
    /// The outcome of `verdict`, an answer of `engine`.
    pub fn of(engine: &Engine, verdict: &Verdict) -> Outcome {
        let (rule, refusal) = match verdict.cause() {
            Cause::Rule(id) => (engine.rule(id).map(|r| r.name().to_owned()), None),
            Cause::Default => (None, None),
            Cause::Refused(r) => (None, Some(r.to_string())),
        };
        Outcome {
            decision: if verdict.is_allowed() {
                "allow"
            } else {
                "forbidden"
            },
            status: verdict.status(),
            rule,
            refusal,
        }
    }

    /// Whether the answer is the same: the decision and the status.
    pub fn same_answer(&self, other: &Outcome) -> bool {
        (self.decision, self.status) == (other.decision, other.status)
    }

    /// Whether it allows.
    pub fn is_allowed(&self) -> bool {
        self.decision == "allow"
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_allowed() {
            f.write_str("allow")?;
        } else {
            write!(f, "forbidden ({})", self.status)?;
        }
        match (&self.rule, &self.refusal) {
            (Some(rule), _) => write!(f, " by rule {rule:?}"),
            (None, Some(refusal)) => write!(f, ": {refusal}"),
            (None, None) => f.write_str(" by default"),
        }
    }
}

/// One example request, with its line in the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Example {
    /// The 1-based line number.
    pub line: u64,
    /// `address METHOD target (header: value, ...)`: the logged headers but the User-Agent.
    pub request: String,
    /// The full explanation, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// For a change, the older policy's full explanation, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_explanation: Option<String>,
}

/// How often something happened, with examples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Tally {
    count: u64,
    examples: Vec<Example>,
}

impl Tally {
    fn add(&mut self, keep: usize, example: impl FnOnce() -> Example) {
        self.count += 1;
        if self.examples.len() < keep {
            let e = example();
            if !self.examples.iter().any(|x| x.request == e.request) {
                self.examples.push(e);
            }
        }
    }
}

/// How many requests had one outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutcomeCount {
    /// The outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How many requests.
    pub count: u64,
    /// Distinct examples, as many as asked for.
    pub examples: Vec<Example>,
}

/// Requests whose answer changed from one outcome to another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The older policy's outcome.
    pub from: Outcome,
    /// The newer policy's outcome.
    pub to: Outcome,
    /// How many requests.
    pub count: u64,
    /// Distinct examples, as many as asked for.
    pub examples: Vec<Example>,
}

/// How a line's client address was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientSource {
    /// The logged address, because the policy reads only the peer.
    Peer,
    /// The logged address, which is not a trusted proxy (a forwarded field was not believed).
    UntrustedPeer,
    /// The logged address, a trusted proxy, because the log has no forwarded field for the
    /// line: the engine saw the client then, but the log did not keep it.
    ProxyWithoutForwarded,
    /// The forwarded field, sent by a trusted proxy.
    Forwarded,
    /// Unknown: the forwarded field could not be read, so the request is refused or decided
    /// as the policy's `on_unknown` says.
    Unknown,
}

impl std::fmt::Display for ClientSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClientSource::Peer => "the logged address (the policy reads the peer)",
            ClientSource::UntrustedPeer => {
                "the logged address (not a trusted proxy, so a forwarded field is not believed)"
            }
            ClientSource::ProxyWithoutForwarded => {
                "the logged address, a trusted proxy: the log has no forwarded field for these lines, so the proxy stands for the client"
            }
            ClientSource::Forwarded => "the forwarded field, from a trusted proxy",
            ClientSource::Unknown => "unknown (the forwarded field could not be read)",
        })
    }
}

/// Lines that were not requests of the format.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Unparsed {
    /// How many.
    pub count: u64,
    /// How many of them were longer than [`super::MAX_LINE`].
    pub too_long: u64,
    /// The first line numbers (1-based), up to [`Unparsed::MAX_SHOWN`].
    pub lines: Vec<u64>,
}

impl Unparsed {
    /// How many line numbers are kept.
    pub const MAX_SHOWN: usize = 20;
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Lines read.
    pub lines: u64,
    /// Lines that were not requests of the chosen format (skipped).
    pub unparsed: Unparsed,
    /// Per outcome under the policy, allow first.
    pub outcomes: Vec<OutcomeCount>,
    /// How each request's client was found, with counts.
    pub clients: BTreeMap<ClientSource, u64>,
    /// Requests decided by a rule that reads API keys (replayed without one).
    pub decided_by_key_rules: u64,
    /// With an older policy: per pair of outcomes, the requests whose decision or status
    /// changed.
    pub changes: Vec<Change>,
    /// How many requests changed their answer in all.
    pub changed: u64,
}

impl ReplayReport {
    /// How many requests were decided (lines that parsed).
    pub fn requests(&self) -> u64 {
        self.outcomes.iter().map(|o| o.count).sum()
    }
}

/// Collects a report line by line.
pub(super) struct Builder {
    keep: usize,
    unparsed: Unparsed,
    outcomes: BTreeMap<Outcome, Tally>,
    changes: BTreeMap<(Outcome, Outcome), Tally>,
    clients: BTreeMap<ClientSource, u64>,
    decided_by_key_rules: u64,
    changed: u64,
}

impl Builder {
    pub(super) fn new(keep: usize) -> Builder {
        Builder {
            keep,
            unparsed: Unparsed::default(),
            outcomes: BTreeMap::new(),
            changes: BTreeMap::new(),
            clients: BTreeMap::new(),
            decided_by_key_rules: 0,
            changed: 0,
        }
    }

    pub(super) fn unparsed(&mut self, line: u64, too_long: bool) {
        self.unparsed.count += 1;
        self.unparsed.too_long += u64::from(too_long);
        if self.unparsed.lines.len() < Unparsed::MAX_SHOWN {
            self.unparsed.lines.push(line);
        }
    }

    /// One decided request: its outcome now, how its client was found, whether a rule that
    /// reads keys decided, and its outcome under the older policy.
    pub(super) fn decided(
        &mut self,
        now: Outcome,
        source: ClientSource,
        reads_keys: bool,
        old: Option<(Outcome, &Engine)>,
        example: impl Fn(Option<&Engine>) -> Example,
    ) {
        *self.clients.entry(source).or_default() += 1;
        self.decided_by_key_rules += u64::from(reads_keys);
        let keep = self.keep;
        if let Some((old, old_engine)) = old {
            if !old.same_answer(&now) {
                self.changed += 1;
                self.changes
                    .entry((old, now.clone()))
                    .or_default()
                    .add(keep, || example(Some(old_engine)));
            }
        }
        self.outcomes
            .entry(now)
            .or_default()
            .add(keep, || example(None));
    }

    pub(super) fn finish(self, lines: u64) -> ReplayReport {
        ReplayReport {
            lines,
            unparsed: self.unparsed,
            outcomes: self
                .outcomes
                .into_iter()
                .map(|(outcome, t)| OutcomeCount {
                    outcome,
                    count: t.count,
                    examples: t.examples,
                })
                .collect(),
            clients: self.clients,
            decided_by_key_rules: self.decided_by_key_rules,
            changes: self
                .changes
                .into_iter()
                .map(|((from, to), t)| Change {
                    from,
                    to,
                    count: t.count,
                    examples: t.examples,
                })
                .collect(),
            changed: self.changed,
        }
    }
}
