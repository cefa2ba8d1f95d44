//! Per-rule decision counters: relaxed atomics on the hot path, kept by rule name across
//! reloads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One rule's counters.
#[derive(Debug, Default)]
pub(crate) struct RuleCounters {
    pub(crate) allowed: AtomicU64,
    pub(crate) forbidden: AtomicU64,
    pub(crate) would_forbid: AtomicU64,
    pub(crate) would_allow: AtomicU64,
}

impl RuleCounters {
    pub(crate) fn snapshot(&self) -> RuleCounts {
        RuleCounts {
            allowed: self.allowed.load(Ordering::Relaxed),
            forbidden: self.forbidden.load(Ordering::Relaxed),
            would_forbid: self.would_forbid.load(Ordering::Relaxed),
            would_allow: self.would_allow.load(Ordering::Relaxed),
        }
    }
}

/// Counters that belong to no rule.
#[derive(Debug, Default)]
pub(crate) struct OtherCounters {
    pub(crate) default_allowed: AtomicU64,
    pub(crate) default_forbidden: AtomicU64,
    pub(crate) refused: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// How often one rule decided, or would have decided in report mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RuleCounts {
    /// Requests the rule allowed.
    pub allowed: u64,
    /// Requests the rule forbade (also in a report-mode policy, where they were let through).
    pub forbidden: u64,
    /// Requests the report-mode rule would have forbidden.
    pub would_forbid: u64,
    /// Requests the report-mode rule would have allowed.
    pub would_allow: u64,
}

/// A snapshot of all counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Per rule, by name; rules dropped by a reload keep their last counts.
    pub rules: BTreeMap<String, RuleCounts>,
    /// Requests the default allowed.
    pub default_allowed: u64,
    /// Requests the default forbade.
    pub default_forbidden: u64,
    /// Requests refused before any rule ran (malformed, unknown client).
    pub refused: u64,
}

impl OtherCounters {
    pub(crate) fn fill(&self, counts: &mut Counts) {
        counts.default_allowed = self.default_allowed.load(Ordering::Relaxed);
        counts.default_forbidden = self.default_forbidden.load(Ordering::Relaxed);
        counts.refused = self.refused.load(Ordering::Relaxed);
    }
}
