//! The rules' clause bits and the masks over them: which clause bits exist, which rules
//! enforce, report or forbid, and which clause bits can only make a decision stricter. The one
//! home of the clause layout's rules, for the compiler that fills it and the engine that reads
//! it.

use super::bits::{Bits, ClauseLayout};
use super::ids::ClauseBit;
use super::verdict::RuleId;
use super::Clause;
use crate::vocabulary::{Effect, Mode};

/// Where each rule's clause bits are, and the rule-level masks over them.
#[derive(Debug)]
pub(crate) struct RuleMasks {
    pub(crate) clauses: ClauseLayout,
    pub(crate) exists: Bits,
    pub(crate) enforce: Bits,
    pub(crate) report: Bits,
    pub(crate) forbid: Bits,
    pub(crate) forbid_favouring: Bits,
}

impl RuleMasks {
    /// Empty masks for `rules` rules; `None` when that many do not fit the layout.
    pub(crate) fn new(rules: usize) -> Option<RuleMasks> {
        let clauses = ClauseLayout::for_rules(rules)?;
        let per_clause = clauses.words_per_clause();
        Some(RuleMasks {
            clauses,
            exists: Bits::zeros(clauses.words()),
            enforce: Bits::zeros(per_clause),
            report: Bits::zeros(per_clause),
            forbid: Bits::zeros(per_clause),
            forbid_favouring: Bits::zeros(clauses.words()),
        })
    }

    pub(crate) fn when_bit(&self, rule: RuleId) -> ClauseBit {
        self.clauses.bit(rule, Clause::When)
    }

    pub(crate) fn unless_bit(&self, rule: RuleId) -> ClauseBit {
        self.clauses.bit(rule, Clause::Unless)
    }

    pub(crate) fn add_rule(&mut self, rule: RuleId, effect: Effect, mode: Mode, has_unless: bool) {
        let (when, unless) = (self.when_bit(rule), self.unless_bit(rule));
        self.exists.set(when);
        if has_unless {
            self.exists.set(unless);
        }
        // The per-rule masks are one half long: a rule's place there is its `when` bit.
        match mode {
            Mode::Enforce => self.enforce.set(when),
            Mode::Report => self.report.set(when),
        }
        // A forbid rule's `when` and an allow rule's `unless` can only make a decision stricter
        // by holding.
        match effect {
            Effect::Forbid => {
                self.forbid.set(when);
                self.forbid_favouring.set(when);
            }
            Effect::Allow => self.forbid_favouring.set(unless),
        }
    }
}
