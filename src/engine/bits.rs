//! Fixed-width bit sets over rule clauses.
//!
//! Each rule `r` owns two bits: `r` for its `when` clause and `words * 64 + r` for its `unless`
//! clause, where `words` is the number of words needed for one bit per rule. Keeping the two
//! clause halves word-aligned lets "when holds and unless does not" be computed a word at a
//! time. [`ClauseLayout`] is the one place that knows this layout.

use super::ids::ClauseBit;
use super::verdict::RuleId;
use super::Clause;

/// Where each rule's clause bits are in a clause bit set: the `when` bits of all rules, then
/// their `unless` bits, each half word-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClauseLayout {
    /// Words per half (one bit per rule).
    words_per_clause: usize,
    /// The bit of rule 0's `unless` clause: `words_per_clause * 64`.
    unless_offset: u32,
}

impl ClauseLayout {
    /// The layout for a policy of `rules` rules; `None` when its bits could not all be named
    /// by a `u32`.
    pub(crate) fn for_rules(rules: usize) -> Option<ClauseLayout> {
        let words_per_clause = rules.div_ceil(64).max(1);
        // INVARIANT: checked here once, so that every bit below `2 * unless_offset` fits.
        let unless_offset = u32::try_from(words_per_clause.checked_mul(64)?).ok()?;
        unless_offset.checked_mul(2)?;
        Some(ClauseLayout {
            words_per_clause,
            unless_offset,
        })
    }

    /// Words per half: one bit per rule.
    pub(crate) fn words_per_clause(self) -> usize {
        self.words_per_clause
    }

    /// Words of a whole clause bit set.
    pub(crate) fn words(self) -> usize {
        self.words_per_clause * 2
    }

    /// The bit of a rule's clause.
    pub(crate) fn bit(self, rule: RuleId, clause: Clause) -> ClauseBit {
        match clause {
            Clause::When => ClauseBit::when(rule),
            // For this engine's rules `rule < unless_offset` and the sum fits (`for_rules`); a
            // rule id from another engine may name a bit past every set, never a wrapped one.
            Clause::Unless => ClauseBit::when(rule).offset(self.unless_offset),
        }
    }

    /// A clause bit set's `when` and `unless` halves.
    #[inline]
    pub(crate) fn split(self, bits: &[u64]) -> (&[u64], &[u64]) {
        bits.split_at(self.words_per_clause.min(bits.len()))
    }

    /// Whether a rule's clause bit is set in `bits`.
    pub(crate) fn holds(self, bits: &[u64], rule: RuleId, clause: Clause) -> bool {
        is_set(bits, self.bit(rule, clause))
    }

    /// Whether a rule applies in a reading's clause bits: its `when` holds and its `unless`
    /// does not.
    pub(crate) fn applies(self, bits: &[u64], rule: RuleId) -> bool {
        self.holds(bits, rule, Clause::When) && !self.holds(bits, rule, Clause::Unless)
    }
}

/// A bit set of a fixed number of words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Bits(Box<[u64]>);

impl Bits {
    pub(crate) fn zeros(words: usize) -> Bits {
        Bits(vec![0; words].into_boxed_slice())
    }

    pub(crate) fn set(&mut self, bit: ClauseBit) {
        if let Some(w) = self.0.get_mut(bit.as_usize() / 64) {
            *w |= 1 << (bit.as_usize() % 64);
        }
    }

    pub(crate) fn clear(&mut self, bit: ClauseBit) {
        clear(&mut self.0, bit);
    }

    pub(crate) fn get(&self, bit: ClauseBit) -> bool {
        is_set(&self.0, bit)
    }

    /// A copy with `bits` set as well.
    pub(crate) fn with(&self, bits: impl IntoIterator<Item = ClauseBit>) -> Bits {
        let mut out = self.clone();
        for bit in bits {
            out.set(bit);
        }
        out
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.0
    }
}

impl From<Vec<u64>> for Bits {
    fn from(words: Vec<u64>) -> Bits {
        Bits(words.into_boxed_slice())
    }
}

/// Whether `bit` is set in `words`.
fn is_set(words: &[u64], bit: ClauseBit) -> bool {
    words
        .get(bit.as_usize() / 64)
        .is_some_and(|w| w & (1 << (bit.as_usize() % 64)) != 0)
}

/// `acc &= other`, word by word.
pub(crate) fn and_into(acc: &mut [u64], other: &[u64]) {
    for (a, b) in acc.iter_mut().zip(other) {
        *a &= b;
    }
}

/// Clears `bit` in `acc`.
pub(crate) fn clear(acc: &mut [u64], bit: ClauseBit) {
    if let Some(w) = acc.get_mut(bit.as_usize() / 64) {
        *w &= !(1 << (bit.as_usize() % 64));
    }
}

/// Sets the listed bits in `acc`.
pub(crate) fn set_all(acc: &mut [u64], bits: &[ClauseBit]) {
    for &bit in bits {
        if let Some(w) = acc.get_mut(bit.as_usize() / 64) {
            *w |= 1 << (bit.as_usize() % 64);
        }
    }
}
