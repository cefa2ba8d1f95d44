//! Decision and reload metrics through the [`metrics`] facade (the `metrics` feature): the
//! application installs the exporter it wants (Prometheus, OpenTelemetry, ...) before building
//! the gate.
//!
//! - `portcullis_decisions_total{rule, outcome}`: every request once, under the rule that
//!   decided it (`default` for the default decision, `refused` for requests refused before any
//!   rule ran) with `outcome` `allowed`, `forbidden`, or `would_forbid` (forbidden by a rule in
//!   report mode, and let through); and once more as `would_forbid` under each report-mode
//!   forbid rule that applied before the decision.
//! - `portcullis_policy_reloads_total{result}`: `ok` or `error`.
//! - `portcullis_policy_info{revision}`: 1 for the revision in use, 0 for those replaced.
//!
//! Handles are registered once per engine, so counting a decision is one atomic add.

use metrics::{counter, gauge, Counter};

use super::log::{DEFAULT_LABEL, REFUSED_LABEL};
use crate::{Cause, Decision, Engine, Revision, Verdict};

const DECISIONS: &str = "portcullis_decisions_total";

/// The counters of one label: what decided.
#[derive(Debug)]
struct Outcomes {
    allowed: Counter,
    forbidden: Counter,
    would_forbid: Counter,
}

impl Outcomes {
    fn new(rule: &str) -> Outcomes {
        let rule = rule.to_owned();
        Outcomes {
            allowed: counter!(DECISIONS, "rule" => rule.clone(), "outcome" => "allowed"),
            forbidden: counter!(DECISIONS, "rule" => rule.clone(), "outcome" => "forbidden"),
            would_forbid: counter!(DECISIONS, "rule" => rule, "outcome" => "would_forbid"),
        }
    }
}

/// The handles of one engine's decisions.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// One per rule, then the default, then refusals.
    outcomes: Vec<Outcomes>,
}

impl Metrics {
    pub(crate) fn new(engine: &Engine) -> Metrics {
        let mut outcomes: Vec<Outcomes> = engine
            .rules()
            .iter()
            .map(|r| Outcomes::new(r.name()))
            .collect();
        outcomes.push(Outcomes::new(DEFAULT_LABEL));
        outcomes.push(Outcomes::new(REFUSED_LABEL));
        Metrics { outcomes }
    }

    pub(crate) fn record(&self, engine: &Engine, verdict: &Verdict) {
        let rules = engine.rules().len();
        let slot = match verdict.cause() {
            Cause::Rule(id) => id.index(),
            Cause::Default => rules,
            Cause::Refused(_) => rules + 1,
        };
        if let Some(o) = self.outcomes.get(slot) {
            match (verdict.decision(), verdict.enforced()) {
                (Decision::Allow, _) => o.allowed.increment(1),
                (Decision::Forbidden, true) => o.forbidden.increment(1),
                (Decision::Forbidden, false) => o.would_forbid.increment(1),
            }
        }
        for id in verdict.reported().iter() {
            let forbids = engine
                .rule(id)
                .is_some_and(|r| r.effect() == crate::Effect::Forbid);
            if let (true, Some(o)) = (forbids, self.outcomes.get(id.index())) {
                o.would_forbid.increment(1);
            }
        }
    }
}

/// Records a reload and the revision now in use.
pub(crate) fn reloaded(ok: bool, previous: Revision, now: Revision) {
    counter!("portcullis_policy_reloads_total", "result" => if ok { "ok" } else { "error" })
        .increment(1);
    if ok && previous != now {
        gauge!("portcullis_policy_info", "revision" => previous.to_string()).set(0.0);
    }
    info(now);
}

/// Marks `revision` as the one in use.
pub(crate) fn info(revision: Revision) {
    gauge!("portcullis_policy_info", "revision" => revision.to_string()).set(1.0);
}
