//! One sorted range table for every address of every list and rule.
//!
//! The address space is cut into ranges at every prefix boundary; each range names the set of
//! address groups ("atoms": a list, or one condition's inline addresses) that contain it. A
//! lookup is one binary search, whatever the number of prefixes. Each range costs 8 bytes for
//! IPv4 (start + set id) and 20 for IPv6, and a prefix adds at most two ranges.

use std::net::IpAddr;

/// Ranges of one address family: `starts[i]..starts[i + 1]` belongs to set `sets[i]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ranges<A> {
    pub(crate) starts: Vec<A>,
    pub(crate) sets: Vec<u32>,
}

impl<A: Ord + Copy> Ranges<A> {
    fn lookup(&self, addr: A) -> u32 {
        // INVARIANT: `starts[0]` is the lowest address, so the partition point is at least 1.
        let i = self.starts.partition_point(|&s| s <= addr);
        i.checked_sub(1)
            .and_then(|i| self.sets.get(i))
            .copied()
            .unwrap_or(0)
    }
}

/// The range tables of both families. Set 0 is always the empty set.
#[derive(Debug, Clone, Default)]
pub(crate) struct IpTable {
    pub(crate) v4: Ranges<u32>,
    pub(crate) v6: Ranges<u128>,
}

impl IpTable {
    /// The set id of `ip`, which must already be canonical (IPv4-mapped addresses as IPv4).
    pub(crate) fn lookup(&self, ip: IpAddr) -> u32 {
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
        self.v4.starts.capacity() * 4 + self.v4.sets.capacity() * 4
    }

    /// Bytes held by the IPv6 table.
    pub(crate) fn v6_bytes(&self) -> usize {
        self.v6.starts.capacity() * 16 + self.v6.sets.capacity() * 4
    }
}
