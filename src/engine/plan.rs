//! The plan: the slots a decision reads, in order, each with the rules it can change.

use super::bits::Bits;

/// Which slot a condition is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SlotRef {
    Ip,
    Method,
    Ident,
    Path,
    Host,
    Header(usize),
    /// `issuer`, `scope` and `claim` conditions.
    Claims,
}

impl SlotRef {
    /// Whether the slot reads the same for every reading of a request.
    pub(crate) fn is_per_request(self) -> bool {
        // The claim slot is left out: its view changes within one request (the scope check).
        matches!(self, SlotRef::Ip | SlotRef::Ident | SlotRef::Header(_))
    }
}

/// One slot in the order a decision reads them, with the rules it can change.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) slot: SlotRef,
    /// The rules (one half) with a condition in this slot, in either clause: the slot is read
    /// only while one of them may still apply.
    pub(crate) mentions: Bits,
}
