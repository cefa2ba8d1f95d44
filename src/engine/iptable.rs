//! One sorted range table for every address of every list and rule.
//!
//! The address space is cut into ranges at every prefix boundary; each range names the set of
//! address groups ("atoms": a list, or one condition's inline addresses) that contain it. A
//! lookup is a binary search over one start in sixteen, then a count within one block of
//! sixteen, whatever the number of prefixes. Each range costs about 6.25 bytes for IPv4 (start,
//! a sixteenth of a fence, a two-byte set id while there are at most 65,536 sets) and 19 for
//! IPv6, and a prefix adds at most two ranges.

use std::net::IpAddr;

use super::ids::SetId;

/// Entries per block. A lookup counts, in one block per level, the entries at or below the
/// address: sixteen IPv4 starts are a cache line, and counting them is a few vector compares
/// with no branch to mispredict. Three levels cover 65,536 ranges.
const BLOCK: usize = 16;

/// Ranges of one address family: `starts[i]..starts[i + 1]` belongs to set `sets[i]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ranges<A> {
    starts: Box<[A]>,
    /// Coarsest first: each level holds every sixteenth entry of the level below it (the last
    /// level, of `starts`); the first has at most sixteen. Small enough to stay in cache when
    /// the table does not.
    fences: Box<[Box<[A]>]>,
    sets: SetIds,
}

/// Set ids, two bytes each when they fit.
#[derive(Debug, Clone)]
enum SetIds {
    Narrow(Box<[u16]>),
    Wide(Box<[u32]>),
}

impl Default for SetIds {
    fn default() -> Self {
        SetIds::Narrow(Box::default())
    }
}

impl SetIds {
    fn get(&self, i: usize) -> Option<SetId> {
        match self {
            SetIds::Narrow(ids) => ids.get(i).map(|&id| SetId::from_u32(u32::from(id))),
            SetIds::Wide(ids) => ids.get(i).map(|&id| SetId::from_u32(id)),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            SetIds::Narrow(ids) => ids.len() * 2,
            SetIds::Wide(ids) => ids.len() * 4,
        }
    }
}

impl<A: Ord + Copy> Ranges<A> {
    /// The table of sorted, distinct `starts`, the first being the family's lowest address,
    /// and the set of each range.
    pub(crate) fn new(starts: Vec<A>, sets: Vec<SetId>) -> Ranges<A> {
        let mut fences: Vec<Box<[A]>> = Vec::new();
        loop {
            let below: &[A] = fences.last().map_or(&starts, |l| l);
            if below.len() <= BLOCK {
                break;
            }
            let level: Box<[A]> = below.iter().step_by(BLOCK).copied().collect();
            fences.push(level);
        }
        fences.reverse();
        let fences = fences.into_boxed_slice();
        let narrow: Option<Box<[u16]>> = sets
            .iter()
            .map(|&id| u16::try_from(id.as_u32()).ok())
            .collect();
        Ranges {
            starts: starts.into_boxed_slice(),
            fences,
            sets: match narrow {
                Some(ids) => SetIds::Narrow(ids),
                None => SetIds::Wide(sets.iter().map(|&id| id.as_u32()).collect()),
            },
        }
    }

    /// How many ranges the table holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    fn lookup(&self, addr: A) -> SetId {
        // INVARIANT: every level starts with `starts[0]`, the lowest address, so each count is
        // at least one and `at` is the last entry at or below `addr`.
        let mut at = 0;
        for level in self.fences.iter().chain(std::iter::once(&self.starts)) {
            at = last_at_or_below(level, at * BLOCK, addr);
        }
        self.sets.get(at).unwrap_or(SetId::EMPTY)
    }

    fn bytes(&self) -> usize {
        let fences: usize = self.fences.iter().map(|l| l.len()).sum();
        (self.starts.len() + fences) * std::mem::size_of::<A>() + self.sets.bytes()
    }
}

/// The index of the last entry at or below `addr` in the block of `level` starting at `from`
/// (`from` itself if none is).
#[inline]
fn last_at_or_below<A: Ord + Copy>(level: &[A], from: usize, addr: A) -> usize {
    // Sorted, so the count of entries at or below `addr` is the partition point. A whole block
    // has a fixed size, which unrolls into straight vector code.
    let below = match level.get(from..from + BLOCK) {
        Some(block) => match <&[A; BLOCK]>::try_from(block) {
            Ok(block) => block.iter().map(|&e| usize::from(e <= addr)).sum(),
            Err(_) => 0,
        },
        None => level
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .filter(|&&e| e <= addr)
            .count(),
    };
    (from + below).saturating_sub(1)
}

/// The range tables of both families. Set 0 is always the empty set.
#[derive(Debug, Clone, Default)]
pub(crate) struct IpTable {
    pub(crate) v4: Ranges<u32>,
    pub(crate) v6: Ranges<u128>,
}

impl IpTable {
    /// The set id of `ip`, which must already be canonical (IPv4-mapped addresses as IPv4).
    pub(crate) fn lookup(&self, ip: IpAddr) -> SetId {
        match ip {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4)),
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6)),
        }
    }

    /// Bytes held by the range tables.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.v4_bytes() + self.v6_bytes()
    }

    /// Bytes held by the IPv4 table.
    pub(crate) fn v4_bytes(&self) -> usize {
        self.v4.bytes()
    }

    /// Bytes held by the IPv6 table.
    pub(crate) fn v6_bytes(&self) -> usize {
        self.v6.bytes()
    }
}
