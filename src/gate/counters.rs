//! Per-rule decision counters: relaxed atomics on the hot path, kept by rule name across
//! reloads.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many ways counters (and the names handed to callers) are split. Each thread counts in
/// its own shard, so that threads on different cores do not fight over one cache line on
/// every request; a snapshot adds the shards up.
pub(crate) const SHARDS: usize = 8;

/// The shard of the calling thread: threads take shards in turn, on first use.
pub(crate) fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
    }
    SHARD
        .try_with(|s| match s.get() {
            Some(i) => i,
            None => {
                let i = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
                s.set(Some(i));
                i
            }
        })
        .unwrap_or(0)
}

/// One shard of a rule's counters, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct RuleLine {
    pub(crate) allowed: AtomicU64,
    pub(crate) forbidden: AtomicU64,
    pub(crate) would_forbid: AtomicU64,
    pub(crate) would_allow: AtomicU64,
}

/// One rule's counters.
#[derive(Debug, Default)]
pub(crate) struct RuleCounters {
    lines: [RuleLine; SHARDS],
}

impl RuleCounters {
    /// The counters the calling thread bumps.
    pub(crate) fn line(&self, shard: usize) -> &RuleLine {
        &self.lines[shard % SHARDS]
    }

    pub(crate) fn snapshot(&self) -> RuleCounts {
        let sum = |f: fn(&RuleLine) -> &AtomicU64| {
            self.lines
                .iter()
                .map(|l| f(l).load(Ordering::Relaxed))
                .sum()
        };
        RuleCounts {
            allowed: sum(|l| &l.allowed),
            forbidden: sum(|l| &l.forbidden),
            would_forbid: sum(|l| &l.would_forbid),
            would_allow: sum(|l| &l.would_allow),
        }
    }
}

/// One shard of the counters that belong to no rule.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct OtherLine {
    pub(crate) default_allowed: AtomicU64,
    pub(crate) default_forbidden: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// Counters that belong to no rule.
#[derive(Debug, Default)]
pub(crate) struct OtherCounters {
    lines: [OtherLine; SHARDS],
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
    /// The counters the calling thread bumps.
    pub(crate) fn line(&self, shard: usize) -> &OtherLine {
        &self.lines[shard % SHARDS]
    }

    pub(crate) fn fill(&self, counts: &mut Counts) {
        let sum = |f: fn(&OtherLine) -> &AtomicU64| {
            self.lines
                .iter()
                .map(|l| f(l).load(Ordering::Relaxed))
                .sum()
        };
        counts.default_allowed = sum(|l| &l.default_allowed);
        counts.default_forbidden = sum(|l| &l.default_forbidden);
        counts.refused = sum(|l| &l.refused);
    }
}
