//! Decision logs: one event per refusal (and per would-be refusal in report mode) that names
//! the rule, the client, the request id and the policy revision; allowed requests at DEBUG.
//!
//! Under a flood, each rule logs at most [`GateBuilder::log_limit`](super::GateBuilder::log_limit)
//! events a second; the rest are counted and summed up in one line when the rule's next second
//! begins. Counters and metrics still count every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::request_id::RequestId;
use crate::engine::request::RequestView;
use crate::explain::CredentialReport;
use crate::{Cause, Decision, Effect, Engine, Verdict};

/// What the default decision and requests refused before any rule ran are called wherever a
/// rule name would stand: logs, metrics and counters. No rule may take these names.
pub(crate) const DEFAULT_LABEL: &str = "default";
/// See [`DEFAULT_LABEL`].
pub(crate) const REFUSED_LABEL: &str = "refused";

/// Events logged per rule per second, by default.
pub(crate) const DEFAULT_LOG_LIMIT: u32 = 32;

/// Per-rule windows of one second: the second (since `start`) in the high half, the events
/// seen in it in the low half.
#[derive(Debug)]
pub(crate) struct Flood {
    start: Instant,
    /// One per rule, then the default decision, then refusals.
    windows: Box<[AtomicU64]>,
}

impl Flood {
    pub(crate) fn new(rules: usize) -> Flood {
        Flood {
            start: Instant::now(),
            windows: (0..rules + 2).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether event number `n` of this second may be logged under `limit`, and how many
    /// events of the rule's previous second were suppressed (when its second just ended).
    fn admit(&self, slot: usize, limit: u32) -> (bool, u64) {
        let Some(window) = self.windows.get(slot) else {
            return (true, 0);
        };
        let now = self.start.elapsed().as_secs() & 0xFFFF_FFFF;
        let mut current = window.load(Ordering::Relaxed);
        loop {
            let (second, seen) = (current >> 32, current & 0xFFFF_FFFF);
            if second == now {
                let before = window.fetch_add(1, Ordering::Relaxed) & 0xFFFF_FFFF;
                return (before < u64::from(limit), 0);
            }
            match window.compare_exchange_weak(
                current,
                (now << 32) | 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (limit > 0, seen.saturating_sub(u64::from(limit))),
                Err(actual) => current = actual,
            }
        }
    }
}

/// The pieces of one decision a log event names.
pub(crate) struct Event<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) request: &'a RequestView<'a>,
    pub(crate) verdict: &'a Verdict,
    pub(crate) request_id: &'a RequestId,
}

impl Event<'_> {
    /// Logs the decision, subject to the flood limit (`None`: no limit).
    pub(crate) fn log(&self, flood: &Flood, limit: Option<u32>) {
        let engine = self.engine;
        let verdict = self.verdict;
        let reported_forbid = || {
            verdict
                .reported()
                .iter()
                .filter_map(|id| engine.rule(id))
                .find(|r| r.effect() == Effect::Forbid)
        };
        let forbidden = verdict.decision() == Decision::Forbidden;
        let (decision, rule, slot) = if forbidden {
            let decision = if verdict.enforced() {
                "forbidden"
            } else {
                "would_forbid"
            };
            let (rule, slot) = label(engine, verdict);
            (decision, rule, slot)
        } else if let Some(r) = reported_forbid() {
            ("would_forbid", r.name(), r.id().index())
        } else {
            if tracing::enabled!(target: "portcullis", tracing::Level::DEBUG) {
                let (rule, _) = label(engine, verdict);
                self.emit(tracing::Level::DEBUG, "allowed", rule);
            }
            return;
        };
        if !tracing::enabled!(target: "portcullis", tracing::Level::WARN) {
            return;
        }
        let (admitted, suppressed) = match limit {
            Some(limit) => flood.admit(slot, limit),
            None => (true, 0),
        };
        if suppressed > 0 {
            tracing::warn!(
                target: "portcullis", rule, suppressed, revision = %engine.revision(),
                "{suppressed} more decision logs of rule {rule:?} were suppressed in one second"
            );
        }
        if admitted {
            self.emit(tracing::Level::WARN, decision, rule);
        }
    }

    fn emit(&self, level: tracing::Level, decision: &str, rule: &str) {
        let (engine, request, verdict) = (self.engine, self.request, self.verdict);
        let explanation = engine.explain(request);
        let client = verdict
            .client_ip()
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        // The client as the evaluation found it: an API key's or a bearer token's.
        let client_name = match &explanation.credentials {
            CredentialReport::Client { name, .. } => name.as_str(),
            CredentialReport::Token {
                client: Some(name), ..
            } => name.as_str(),
            _ => "-",
        };
        let method = String::from_utf8_lossy(request.method());
        let path = log_path(request.target());
        let status = if decision == "would_forbid" && verdict.is_allowed() {
            200
        } else {
            verdict.status()
        };
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "portcullis", $level, decision, rule, status,
                    client = %client, client_name, request_id = %self.request_id,
                    revision = %engine.revision(), method = %method, path = %path,
                    "{explanation}"
                )
            };
        }
        if level == tracing::Level::DEBUG {
            event!(tracing::Level::DEBUG);
        } else {
            event!(tracing::Level::WARN);
        }
    }
}

/// The name that stands for what decided: the rule's, `default` or `refused`; and its flood
/// window.
fn label<'e>(engine: &'e Engine, verdict: &Verdict) -> (&'e str, usize) {
    let rules = engine.rules().len();
    match verdict.cause() {
        Cause::Rule(id) => engine
            .rule(id)
            .map_or((DEFAULT_LABEL, rules), |r| (r.name(), id.index())),
        Cause::Default => (DEFAULT_LABEL, rules),
        Cause::Refused(_) => (REFUSED_LABEL, rules + 1),
    }
}

/// The path of a target for logs: without the query, which may carry secrets.
fn log_path(target: &[u8]) -> String {
    let end = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    String::from_utf8_lossy(target.get(..end).unwrap_or(target))
        .escape_debug()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_at_the_limit_and_summed_up_next_second() {
        let flood = Flood::new(1);
        let admitted = (0..100).filter(|_| flood.admit(0, 10).0).count();
        assert_eq!(admitted, 10);
        // Another rule's window is its own.
        assert!(flood.admit(1, 10).0);
        // The next second: the 90 suppressed are reported once.
        let window = &flood.windows[0];
        let now = flood.start.elapsed().as_secs();
        window.store(((now.wrapping_sub(1)) << 32) | 100, Ordering::Relaxed);
        assert_eq!(flood.admit(0, 10), (true, 90));
        assert_eq!(flood.admit(0, 10), (true, 0));
        // A limit of zero logs nothing, but still counts.
        assert!(!flood.admit(2, 0).0);
    }
}
