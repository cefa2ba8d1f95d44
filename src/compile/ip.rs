//! Builds the [`IpTable`]: every prefix of every atom, cut into disjoint ranges.

use std::collections::HashMap;

use ipnet::IpNet;

use crate::engine::ids::{AtomId, SetId};
use crate::engine::iptable::{IpTable, Ranges};

/// Interns sets of atoms; set 0 is the empty set.
#[derive(Debug)]
pub(crate) struct SetInterner {
    ids: HashMap<Vec<AtomId>, SetId>,
    pub(crate) sets: Vec<Vec<AtomId>>,
}

impl SetInterner {
    pub(crate) fn new() -> Self {
        let mut ids = HashMap::new();
        ids.insert(Vec::new(), SetId::EMPTY);
        SetInterner {
            ids,
            sets: vec![Vec::new()],
        }
    }

    /// The id of `set`, made on first sight; `None` past `u32::MAX` sets.
    fn intern(&mut self, set: &[AtomId]) -> Option<SetId> {
        if let Some(&id) = self.ids.get(set) {
            return Some(id);
        }
        let id = SetId::new(self.sets.len())?;
        self.ids.insert(set.to_vec(), id);
        self.sets.push(set.to_vec());
        Some(id)
    }
}

/// An address family's integer form.
trait Addr: Ord + Copy + Default {
    fn succ(self) -> Option<Self>;
}

impl Addr for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Addr for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Builds the table from `(atom, prefix)` pairs; `None` when it would hold more address sets
/// than ids can name.
pub(crate) fn build(nets: &[(AtomId, IpNet)], interner: &mut SetInterner) -> Option<IpTable> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for &(atom, net) in nets {
        match net {
            IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()), atom)),
            IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()), atom)),
        }
    }
    Some(IpTable {
        v4: sweep(v4, interner)?,
        v6: sweep(v6, interner)?,
    })
}

/// Sweeps the range boundaries in order, tracking which atoms cover each range.
fn sweep<A: Addr>(items: Vec<(A, A, AtomId)>, interner: &mut SetInterner) -> Option<Ranges<A>> {
    // Each event: (address, atom, +1 at a start / -1 just past an end).
    let mut events: Vec<(A, AtomId, bool)> = Vec::with_capacity(items.len() * 2);
    for (start, end, atom) in items {
        events.push((start, atom, true));
        if let Some(after) = end.succ() {
            events.push((after, atom, false));
        }
    }
    events.sort_unstable_by_key(|e| e.0);

    let atoms = events.iter().map(|e| e.1.as_usize() + 1).max().unwrap_or(0);
    let mut counts: Vec<u32> = vec![0; atoms];
    let mut active: Vec<AtomId> = Vec::new();
    let mut starts = vec![A::default()];
    let mut sets = vec![SetId::EMPTY];
    let mut i = 0;
    while let Some(&(pos, _, _)) = events.get(i) {
        while let Some(&(p, atom, start)) = events.get(i) {
            if p != pos {
                break;
            }
            let Some(count) = counts.get_mut(atom.as_usize()) else {
                i += 1;
                continue;
            };
            if start {
                *count += 1;
                if *count == 1 {
                    if let Err(at) = active.binary_search(&atom) {
                        active.insert(at, atom);
                    }
                }
            } else {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    if let Ok(at) = active.binary_search(&atom) {
                        active.remove(at);
                    }
                }
            }
            i += 1;
        }
        let id = interner.intern(&active)?;
        let last = starts.len() - 1;
        if starts.get(last) == Some(&pos) {
            // A boundary at the lowest address replaces the initial empty range.
            if let Some(s) = sets.get_mut(last) {
                *s = id;
            }
        } else if sets.last() != Some(&id) {
            starts.push(pos);
            sets.push(id);
        }
    }
    merge_equal_neighbours(&mut starts, &mut sets);
    Some(Ranges::new(starts, sets))
}

fn merge_equal_neighbours<A: Copy>(starts: &mut Vec<A>, sets: &mut Vec<SetId>) {
    let mut keep = 0;
    for i in 0..starts.len() {
        if keep > 0 && sets.get(keep - 1) == sets.get(i) {
            continue;
        }
        starts.swap(keep, i);
        sets.swap(keep, i);
        keep += 1;
    }
    starts.truncate(keep);
    sets.truncate(keep);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn table(nets: &[(u32, &str)]) -> (IpTable, SetInterner) {
        let mut interner = SetInterner::new();
        let nets: Vec<_> = nets
            .iter()
            .map(|(a, n)| (atom(*a), n.parse().unwrap()))
            .collect();
        (build(&nets, &mut interner).unwrap(), interner)
    }

    fn atom(a: u32) -> AtomId {
        AtomId::new(a as usize).unwrap()
    }

    fn atoms(t: &(IpTable, SetInterner), ip: &str) -> Vec<AtomId> {
        let id = t.0.lookup(ip.parse::<IpAddr>().unwrap());
        t.1.sets[id.as_usize()].clone()
    }

    #[test]
    fn lookups_match_a_linear_scan() {
        let nets = [
            (0, "10.0.0.0/8"),
            (1, "10.1.0.0/16"),
            (1, "10.1.2.0/24"),
            (2, "0.0.0.0/0"),
            (3, "255.255.255.255/32"),
            (4, "2001:db8::/32"),
            (5, "::/0"),
            (6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
        ];
        let t = table(&nets);
        let probes = [
            "0.0.0.0",
            "9.255.255.255",
            "10.0.0.0",
            "10.1.2.3",
            "10.1.255.255",
            "10.2.0.0",
            "10.255.255.255",
            "11.0.0.0",
            "255.255.255.254",
            "255.255.255.255",
            "::",
            "2001:db8::1",
            "2001:db9::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for p in probes {
            let ip: IpAddr = p.parse().unwrap();
            let mut want: Vec<AtomId> = nets
                .iter()
                .filter(|(_, n)| n.parse::<IpNet>().unwrap().contains(&ip))
                .map(|(a, _)| atom(*a))
                .collect();
            want.dedup();
            assert_eq!(atoms(&t, p), want, "{p}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Tables of many blocks, probed at every prefix edge and at random.
        #[test]
        fn lookups_in_large_tables_match_a_linear_scan(
            v4 in proptest::collection::vec((0u32..40, proptest::prelude::any::<u32>(), 8u8..=32), 0..400),
            v6 in proptest::collection::vec((0u32..40, proptest::prelude::any::<u128>(), 16u8..=128), 0..100),
            random in proptest::collection::vec(proptest::prelude::any::<u32>(), 50),
        ) {
            let mut nets: Vec<(AtomId, IpNet)> = Vec::new();
            for (atom, addr, len) in v4 {
                let net = ipnet::Ipv4Net::new(addr.into(), len).unwrap().trunc();
                nets.push((self::atom(atom), IpNet::V4(net)));
            }
            for (atom, addr, len) in v6 {
                let net = ipnet::Ipv6Net::new(addr.into(), len).unwrap().trunc();
                nets.push((self::atom(atom), IpNet::V6(net)));
            }
            let mut interner = SetInterner::new();
            let t = build(&nets, &mut interner).unwrap();
            let mut probes: Vec<IpAddr> = random.into_iter().map(|a| IpAddr::from(std::net::Ipv4Addr::from(a))).collect();
            for (_, net) in &nets {
                for edge in [net.network(), net.broadcast()] {
                    probes.push(edge);
                    match edge {
                        IpAddr::V4(a) => {
                            let a = u32::from(a);
                            probes.extend([a.wrapping_sub(1), a.wrapping_add(1)].map(|b| IpAddr::from(std::net::Ipv4Addr::from(b))));
                        }
                        IpAddr::V6(a) => {
                            let a = u128::from(a);
                            probes.extend([a.wrapping_sub(1), a.wrapping_add(1)].map(|b| IpAddr::from(std::net::Ipv6Addr::from(b))));
                        }
                    }
                }
            }
            for ip in probes {
                let mut want: Vec<AtomId> = nets.iter().filter(|(_, n)| n.contains(&ip)).map(|(a, _)| *a).collect();
                want.sort_unstable();
                want.dedup();
                let got = interner.sets[t.lookup(ip).as_usize()].clone();
                proptest::prop_assert_eq!(got, want, "{}", ip);
            }
        }
    }

    #[test]
    fn set_ids_widen_past_two_bytes() {
        let starts: Vec<u32> = (0..70_000u32).map(|i| i * 10).collect();
        let sets: Vec<SetId> = (0..70_000u32).map(SetId::from_u32).collect();
        let r = Ranges::new(starts, sets);
        let t = IpTable {
            v4: r,
            v6: Ranges::default(),
        };
        for i in [0u32, 1, 15, 16, 17, 65_535, 65_536, 69_999] {
            assert_eq!(
                t.lookup(IpAddr::from(std::net::Ipv4Addr::from(i * 10 + 3))),
                SetId::from_u32(i)
            );
        }
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let t = table(&[]);
        assert!(atoms(&t, "1.2.3.4").is_empty());
        assert!(atoms(&t, "::1").is_empty());
    }

    #[test]
    fn adjacent_equal_ranges_merge() {
        let t = table(&[(0, "10.0.0.0/9"), (0, "10.128.0.0/9")]);
        assert_eq!(t.0.v4.len(), 3);
    }
}
