//! Fixed-width bit sets over rule clauses.
//!
//! Each rule `r` owns two bits: `r` for its `when` clause and `half * 64 + r` for its `unless`
//! clause, where `half` is the number of words needed for one bit per rule. Keeping the halves
//! word-aligned lets "when holds and unless does not" be computed a word at a time.

/// A bit set of a fixed number of words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Bits(Box<[u64]>);

impl Bits {
    pub(crate) fn zeros(words: usize) -> Bits {
        Bits(vec![0; words].into_boxed_slice())
    }

    pub(crate) fn set(&mut self, bit: u32) {
        if let Some(w) = self.0.get_mut(bit as usize / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    pub(crate) fn clear(&mut self, bit: u32) {
        if let Some(w) = self.0.get_mut(bit as usize / 64) {
            *w &= !(1 << (bit % 64));
        }
    }

    pub(crate) fn get(&self, bit: u32) -> bool {
        self.0
            .get(bit as usize / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// A copy with `bits` set as well.
    pub(crate) fn with(&self, bits: impl IntoIterator<Item = u32>) -> Bits {
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

/// `acc &= other`, word by word.
pub(crate) fn and_into(acc: &mut [u64], other: &[u64]) {
    for (a, b) in acc.iter_mut().zip(other) {
        *a &= b;
    }
}

/// Sets the listed bits in `acc`.
pub(crate) fn set_all(acc: &mut [u64], bits: &[u32]) {
    for &bit in bits {
        if let Some(w) = acc.get_mut(bit as usize / 64) {
            *w |= 1 << (bit % 64);
        }
    }
}
