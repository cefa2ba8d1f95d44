//! Small typed ids: positions in the engine's tables, checked to fit in 32 bits when made.
//!
//! In the manner of regex-automata's `SmallIndex`: an id is made only through a check, so it
//! never silently wraps or saturates, and the public ids ([`RuleId`](super::verdict::RuleId),
//! [`ClientId`](super::verdict::ClientId)) are built on it.

/// A position in one of the engine's tables, at most `u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct SmallIndex(u32);

impl SmallIndex {
    /// `index` as a small index, if it fits in 32 bits.
    #[inline]
    pub(crate) fn new(index: usize) -> Option<SmallIndex> {
        u32::try_from(index).ok().map(SmallIndex)
    }

    /// The index of the entry a table now `len` long gets next, as stored (`u32`).
    #[inline]
    pub(crate) fn next_u32(len: usize) -> Option<u32> {
        SmallIndex::new(len).map(SmallIndex::as_u32)
    }

    /// The index, for indexing a table.
    #[inline]
    pub(crate) fn as_usize(self) -> usize {
        self.0 as usize
    }

    /// The index as stored.
    #[inline]
    pub(crate) fn as_u32(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::SmallIndex;

    #[test]
    fn only_indexes_that_fit_are_made() {
        assert_eq!(SmallIndex::new(7).map(SmallIndex::as_usize), Some(7));
        assert_eq!(
            SmallIndex::new(u32::MAX as usize).map(SmallIndex::as_u32),
            Some(u32::MAX)
        );
        assert_eq!(SmallIndex::new(u32::MAX as usize + 1), None);
    }
}
