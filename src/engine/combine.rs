//! Combining: picking the deciding rule from a reading's clause bits.

use super::bits::Bits;
use super::ids::SmallIndex;
use super::verdict::{Cause, Reported, RuleId};
use super::Engine;
use crate::vocabulary::{Combine, Effect};

impl Engine {
    pub(crate) fn effect_of(&self, cause: Cause) -> Effect {
        match cause {
            Cause::Rule(id) => self
                .rules
                .get(id.index())
                .map_or(Effect::Forbid, |r| r.effect),
            Cause::Default => self.settings.default,
            Cause::Refused(_) => Effect::Forbid,
        }
    }

    /// Picks the deciding rule from the clause bits.
    pub(crate) fn combine_bits(&self, acc: &[u64], reported: &mut Reported) -> Cause {
        let (when, unless) = self.masks.clauses.split(acc);
        let applies =
            |i: usize| when.get(i).copied().unwrap_or(0) & !unless.get(i).copied().unwrap_or(0);
        let word = |b: &Bits, i: usize| b.words().get(i).copied().unwrap_or(0);
        let mut record = |i: usize, mut bits: u64| {
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                if let Some(id) = SmallIndex::new(i * 64 + bit as usize) {
                    reported.push(RuleId(id));
                }
            }
        };
        match self.settings.combine {
            // Rules in file order: the first enforcing rule that applies decides; report-mode
            // rules met before it are recorded.
            Combine::FirstMatch => {
                for i in 0..self.masks.clauses.words_per_clause() {
                    let a = applies(i);
                    let deciding = a & word(&self.masks.enforce, i);
                    let reports = a & word(&self.masks.report, i);
                    if deciding != 0 {
                        let bit = deciding.trailing_zeros();
                        record(i, reports & ((1u64 << bit) - 1));
                        return rule_cause(i, bit);
                    }
                    record(i, reports);
                }
                Cause::Default
            }
            // Any forbid rule that applies wins (the first is named); else any allow rule;
            // every report-mode rule that applies is recorded.
            Combine::ForbidOverrides => {
                let mut allow = None;
                let mut forbid = None;
                for i in 0..self.masks.clauses.words_per_clause() {
                    let a = applies(i);
                    record(i, a & word(&self.masks.report, i));
                    let enforcing = a & word(&self.masks.enforce, i);
                    let f = enforcing & word(&self.masks.forbid, i);
                    if forbid.is_none() && f != 0 {
                        forbid = Some(rule_cause(i, f.trailing_zeros()));
                    }
                    let al = enforcing & !word(&self.masks.forbid, i);
                    if allow.is_none() && al != 0 {
                        allow = Some(rule_cause(i, al.trailing_zeros()));
                    }
                }
                forbid.or(allow).unwrap_or(Cause::Default)
            }
        }
    }
}

fn rule_cause(word: usize, bit: u32) -> Cause {
    SmallIndex::new(word * 64 + bit as usize).map_or(Cause::Default, |i| Cause::Rule(RuleId(i)))
}
