//! Small typed ids: positions in the engine's tables, checked to fit in 32 bits when made.
//!
//! In the manner of regex-automata's `SmallIndex`: an id is made from a position only through
//! a check (`new`), so it never silently wraps; the others are derived from ids that were
//! (`ClauseBit::when`, `ClientKey::of`), read back from the table that stored them
//! (`SetId::from_u32`), or fixed (`SetId::EMPTY`, `NodeId::ROOT`). One exception is on
//! purpose: `ClauseBit::offset` saturates, so that a foreign rule id names a bit past every
//! set rather than a wrapped one. The public ids ([`RuleId`](super::verdict::RuleId),
//! [`ClientId`](super::verdict::ClientId)) are built on the same index.

/// A position in one of the engine's tables, at most `u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct SmallIndex(u32);

impl SmallIndex {
    /// `index` as a small index, if it fits in 32 bits.
    #[inline]
    pub(crate) fn new(index: usize) -> Option<SmallIndex> {
        u32::try_from(index).ok().map(SmallIndex)
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

/// An id that names an entry of one table.
pub(crate) trait TableId: Copy {
    /// The position of the entry, for indexing its table.
    fn as_usize(self) -> usize;
}

/// Declares typed ids over [`SmallIndex`], one per table, so that an id of one table cannot
/// index another.
macro_rules! small_ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub(crate) struct $name(SmallIndex);

        // Not every table makes its ids from positions, or reads them back as positions.
        #[allow(dead_code)]
        impl $name {
            /// The id of entry `index`, if it fits in 32 bits.
            #[inline]
            pub(crate) fn new(index: usize) -> Option<$name> {
                SmallIndex::new(index).map($name)
            }

            /// The position this id names, for indexing its table.
            #[inline]
            pub(crate) fn as_usize(self) -> usize {
                self.0.as_usize()
            }
        }

        impl TableId for $name {
            #[inline]
            fn as_usize(self) -> usize {
                self.0.as_usize()
            }
        }
    )*};
}

small_ids! {
    /// A clause bit: where one rule's `when` or `unless` clause holds in a clause bit set
    /// ([`ClauseLayout`](super::bits::ClauseLayout) says which).
    ClauseBit;
    /// A set of addresses with the same memberships: what the address table maps a range to.
    SetId;
    /// An address condition (an inline CIDR group or a list reference) of the address slot.
    AtomId;
    /// A named address list, in `[lists]` order.
    ListId;
    /// A node of a glob trie.
    NodeId;
    /// A method, in the method slot's dense numbering.
    MethodId;
    /// A role named by a client or a rule.
    RoleId;
    /// A client the identity slot can name: an API client (at its
    /// [`ClientId`](super::verdict::ClientId)'s index) or, after them, a client only tokens
    /// carry.
    ClientKey;
    /// A trusted token issuer, in `[tokens.issuers]` order.
    IssuerId;
}

impl SetId {
    /// The empty set: addresses in no list and no rule.
    pub(crate) const EMPTY: SetId = SetId(SmallIndex(0));

    /// A set id as the address table stores it.
    #[inline]
    pub(crate) fn as_u32(self) -> u32 {
        self.0.as_u32()
    }

    /// A set id the address table stored (every `u32` is one).
    #[inline]
    pub(crate) fn from_u32(id: u32) -> SetId {
        SetId(SmallIndex(id))
    }
}

impl NodeId {
    /// A glob trie's root.
    pub(crate) const ROOT: NodeId = NodeId(SmallIndex(0));
}

impl ClientKey {
    /// An API client's key.
    #[inline]
    pub(crate) fn of(client: super::verdict::ClientId) -> ClientKey {
        ClientKey(client.0)
    }
}

impl ClauseBit {
    /// A rule's `when` bit, which is its id.
    #[inline]
    pub(crate) fn when(rule: super::verdict::RuleId) -> ClauseBit {
        ClauseBit(rule.0)
    }

    /// The bit `offset` places on, saturating: a bit past every set, never a wrapped one.
    #[inline]
    pub(crate) fn offset(self, offset: u32) -> ClauseBit {
        ClauseBit(SmallIndex(self.0 .0.saturating_add(offset)))
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
