//! The compiled conditions, grouped by what they read ("slots").
//!
//! Each slot turns one aspect of the request into a bit set over rule clauses: a bit is set when
//! that clause has no condition in the slot (it is neutral) or its condition holds. The engine
//! ANDs the slots together, so the cost of a decision grows with the request and the number of
//! slots, not with the number of rules, addresses or patterns.

mod ident;

use std::marker::PhantomData;
use std::net::IpAddr;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input, PatternSet};

use crate::engine::bytemap::ByteMap;
use crate::engine::globs::{GlobMatcher, GlobScratch};

use crate::engine::bits::{and_into, set_all, Bits};
use crate::engine::ids::{AtomId, ClauseBit, MethodId, TableId};
use crate::engine::iptable::IpTable;
use crate::engine::request::{trim_ows, RequestView};
pub(crate) use ident::{Authentication, IdentPart, IdentSlot, Identity};

/// A slot whose request value selects a few keys (address groups, a method, a client, its
/// roles), each holding the clause bits it satisfies. Only the neutral bits are stored densely;
/// the rest is sparse, so memory grows with the policy's text, not with keys times rules.
#[derive(Debug, Clone)]
pub(crate) struct SparseSlot<K> {
    pub(crate) neutral: Bits,
    /// Per key (`K`): the clause bits it satisfies.
    pub(crate) keys: Vec<Box<[ClauseBit]>>,
    /// What indexes `keys`.
    pub(crate) key_type: PhantomData<K>,
}

impl<K: TableId> SparseSlot<K> {
    /// A slot of `keys`, indexed by `K`.
    pub(crate) fn new(neutral: Bits, keys: Vec<Box<[ClauseBit]>>) -> SparseSlot<K> {
        SparseSlot {
            neutral,
            keys,
            key_type: PhantomData,
        }
    }

    /// The clause bits `key` satisfies.
    pub(crate) fn bits_of(&self, key: K) -> &[ClauseBit] {
        self.keys.get(key.as_usize()).map_or(&[], |b| b)
    }

    /// `acc &= neutral | bits of keys`.
    pub(crate) fn and_into(
        &self,
        acc: &mut [u64],
        keys: impl Iterator<Item = K>,
        key_bits: &mut Vec<u64>,
    ) {
        key_bits.clear();
        key_bits.extend_from_slice(self.neutral.words());
        for k in keys {
            if let Some(bits) = self.keys.get(k.as_usize()) {
                set_all(key_bits, bits);
            }
        }
        and_into(acc, key_bits);
    }
}

/// Client-address conditions: the range table finds the address groups ("atoms") that hold
/// the address; each atom is a key of the sparse slot.
#[derive(Debug, Clone)]
pub(crate) struct IpSlot {
    pub(crate) table: IpTable,
    /// Per set id: the atoms containing the addresses of that set.
    pub(crate) set_atoms: Vec<Box<[AtomId]>>,
    pub(crate) atoms: SparseSlot<AtomId>,
    /// Per set id, when they fit the memory budget: the slot's whole bit set for that set, so
    /// that a decision is one lookup and one AND.
    pub(crate) set_bits: Option<Box<[Bits]>>,
    /// The bits for a client whose address is unknown: neutral clauses, and the conditions whose
    /// holding can only forbid.
    pub(crate) unknown: Bits,
}

impl IpSlot {
    #[inline]
    pub(crate) fn and_into(&self, acc: &mut [u64], ip: Option<IpAddr>, key_bits: &mut Vec<u64>) {
        let Some(ip) = ip else {
            return and_into(acc, self.unknown.words());
        };
        let set = self.table.lookup(ip).as_usize();
        match self.set_bits.as_deref().and_then(|b| b.get(set)) {
            Some(bits) => and_into(acc, bits.words()),
            None => {
                let atoms = self.set_atoms.get(set).map_or(&[][..], |a| a);
                self.atoms.and_into(acc, atoms.iter().copied(), key_bits)
            }
        }
    }

    pub(crate) fn atoms_of(&self, ip: IpAddr) -> &[AtomId] {
        let set = self.table.lookup(ip).as_usize();
        self.set_atoms.get(set).map_or(&[], |a| a)
    }
}

/// Method conditions: few keys, so each keeps its whole bit set.
#[derive(Debug, Clone)]
pub(crate) struct MethodSlot {
    pub(crate) ids: ByteMap<MethodId>,
    /// Per method id: the neutral clauses and those the method satisfies.
    pub(crate) bits: Vec<Bits>,
    /// A method no condition names: the neutral clauses.
    pub(crate) neutral: Bits,
}

impl MethodSlot {
    #[inline]
    pub(crate) fn and_into(&self, acc: &mut [u64], method: &[u8]) {
        let bits = self
            .ids
            .get(method)
            .and_then(|&id| self.bits.get(id.as_usize()))
            .unwrap_or(&self.neutral);
        and_into(acc, bits.words());
    }
}

/// Where a value slot gets its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueSource {
    Path,
    Host,
    Header(String),
}

/// Conditions on a string value: the path, the host, or every value of one header.
#[derive(Debug, Clone)]
pub(crate) struct ValueSlot {
    pub(crate) source: ValueSource,
    /// Whether a value is also read as the list of its comma-separated elements (RFC 9110
    /// section 5.3): true for `header` conditions, false for the path, host and User-Agent.
    pub(crate) split_lists: bool,
    pub(crate) neutral: Bits,
    /// The bits of every condition in this slot that a poisoned value makes hold.
    pub(crate) poisoned: Bits,
    pub(crate) exact: ByteMap<Vec<ClauseBit>>,
    pub(crate) globs: GlobMatcher,
    pub(crate) glob_bits: Vec<Vec<ClauseBit>>,
    pub(crate) regexes: Option<Regex>,
    pub(crate) regex_bits: Vec<Vec<ClauseBit>>,
    pub(crate) present: Vec<ClauseBit>,
    pub(crate) absent: Vec<ClauseBit>,
}

/// Reusable buffers for one evaluation of a value slot.
#[derive(Debug, Default)]
pub(crate) struct SlotScratch {
    pub(crate) hits: Vec<u64>,
    pub(crate) any: Vec<u64>,
    pub(crate) all: Vec<u64>,
    pub(crate) glob_hits: Vec<usize>,
    pub(crate) globs: GlobScratch,
    pub(crate) patterns: Option<PatternSet>,
}

impl ValueSlot {
    /// Sets in `s.hits` the bits of the conditions that `value` satisfies.
    fn hits(&self, value: &[u8], s: &mut SlotScratch) {
        let SlotScratch {
            hits,
            glob_hits: scratch_globs,
            globs: glob_scratch,
            patterns,
            ..
        } = s;
        hits.fill(0);
        // A value that cannot be read as text satisfies every condition that can only forbid,
        // and no other: it never makes a condition silently not apply.
        if !readable(value) {
            hits.clear();
            hits.extend_from_slice(self.poisoned.words());
            return;
        }
        if !self.exact.is_empty() {
            if let Some(bits) = self.exact.get(value) {
                set_all(hits, bits);
            }
        }
        if !self.globs.is_empty() {
            self.globs.matches_into(value, scratch_globs, glob_scratch);
            for &i in scratch_globs.iter() {
                if let Some(bits) = self.glob_bits.get(i) {
                    set_all(hits, bits);
                }
            }
        }
        if let Some(re) = &self.regexes {
            let set = match patterns {
                Some(set) if set.capacity() >= re.pattern_len() => set,
                _ => patterns.insert(PatternSet::new(re.pattern_len())),
            };
            set.clear();
            re.which_overlapping_matches(&Input::new(value).anchored(Anchored::Yes), set);
            for pid in set.iter() {
                if let Some(bits) = self.regex_bits.get(pid.as_usize()) {
                    set_all(hits, bits);
                }
            }
        }
        set_all(hits, &self.present);
    }

    /// ANDs this slot's bits for the request into `acc`. `single` is the value of a path or host
    /// slot (`None` for a request without a host); header slots read the request.
    ///
    /// With several values, a condition that can only forbid holds if any value satisfies it,
    /// and one that can allow holds only if every value does: a repeated header never escapes
    /// a forbid rule, nor sneaks past an allow rule.
    pub(crate) fn and_into(
        &self,
        acc: &mut [u64],
        forbid_favouring: &[u64],
        request: &RequestView<'_>,
        single: Option<&[u8]>,
        s: &mut SlotScratch,
    ) {
        let words = acc.len();
        if s.hits.len() != words {
            s.hits.clear();
            s.hits.resize(words, 0);
        }
        let mut values = match (&self.source, single) {
            // One value (a path or a host): "any" and "all" agree.
            (_, Some(value)) => return self.and_one(acc, value, s),
            (ValueSource::Header(name), None) => request.header_values(name),
            // A request without a host: as if the header were absent.
            (_, None) => return self.and_absent(acc, s),
        };
        let Some(first) = values.next() else {
            return self.and_absent(acc, s);
        };
        let first = trim_ows(first);
        let mut rest = values.peekable();
        // The usual case, one value that is not a list: "any" and "all" agree again.
        if rest.peek().is_none() && !(self.split_lists && first.contains(&b',')) {
            return self.and_one(acc, first, s);
        }
        for v in [&mut s.any, &mut s.all] {
            if v.len() != words {
                v.clear();
                v.resize(words, 0);
            }
        }
        s.any.fill(0);
        s.all.fill(u64::MAX);
        let visit = |value: &[u8], s: &mut SlotScratch| {
            self.hits(value, s);
            for ((a, l), h) in s.any.iter_mut().zip(s.all.iter_mut()).zip(&s.hits) {
                *a |= h;
                *l &= h;
            }
        };
        for value in std::iter::once(first).chain(rest.map(trim_ows)) {
            visit(value, s);
            // An intermediary may join repeated lines with commas and a backend may split
            // them again: each element is one more value.
            if self.split_lists && value.contains(&b',') {
                for element in value.split(|&b| b == b',') {
                    let element = trim_ows(element);
                    if !element.is_empty() {
                        visit(element, s);
                    }
                }
            }
        }
        for (((a, n), (any, all)), f) in acc
            .iter_mut()
            .zip(self.neutral.words())
            .zip(s.any.iter().zip(&s.all))
            .zip(forbid_favouring)
        {
            *a &= n | (any & f) | (all & !f);
        }
    }

    /// `acc &= neutral | hits(value)`.
    fn and_one(&self, acc: &mut [u64], value: &[u8], s: &mut SlotScratch) {
        self.hits(value, s);
        for ((a, h), n) in acc.iter_mut().zip(&s.hits).zip(self.neutral.words()) {
            *a &= h | n;
        }
    }

    /// `acc &= neutral | absent`: the slot when the request has no value for it.
    fn and_absent(&self, acc: &mut [u64], s: &mut SlotScratch) {
        s.hits.clear();
        s.hits.extend_from_slice(self.neutral.words());
        set_all(&mut s.hits, &self.absent);
        and_into(acc, &s.hits);
    }

    /// The conditions of this slot's patterns that `value` satisfies, as pattern references, for
    /// explanations. Allocates; never on the decision path.
    pub(crate) fn matching_patterns(&self, value: &str) -> (Vec<usize>, Vec<usize>) {
        let globs = if self.globs.is_empty() {
            Vec::new()
        } else {
            self.globs.matches(value)
        };
        let regexes = match &self.regexes {
            Some(re) => {
                let mut set = PatternSet::new(re.pattern_len());
                re.which_overlapping_matches(&Input::new(value).anchored(Anchored::Yes), &mut set);
                set.iter().map(|p| p.as_usize()).collect()
            }
            None => Vec::new(),
        };
        (globs, regexes)
    }
}

/// Whether the value is text: UTF-8 without control characters.
#[inline]
fn readable(v: &[u8]) -> bool {
    // Most values are printable ASCII, which is UTF-8.
    if printable_ascii(v) {
        return true;
    }
    // Backends that trim with Unicode rules (Go's `TrimSpace`, Rust's `str::trim`, Python's
    // `strip`) read `1\u{a0}` as `1`: a value with such an edge is not read as written.
    let trimmed_edge = |c: Option<char>| c.is_some_and(crate::engine::lookalike::trims_as_space);
    match std::str::from_utf8(v) {
        Ok(text) => {
            !has_control(v)
                && !trimmed_edge(text.chars().next())
                && !trimmed_edge(text.chars().next_back())
        }
        Err(_) => false,
    }
}

/// Whether every byte is printable ASCII (0x20 to 0x7e), eight bytes at a time.
fn printable_ascii(v: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut chunks = v.chunks_exact(8);
    let mut bad = 0u64;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // A byte below 0x20 borrows in `x - 0x20..` while its high bit is clear; a byte of
        // 0x7f or more has its high bit set once 1 is added (or already). Carries can only
        // start at a byte that is itself flagged, so a clean word stays clean.
        bad |= (x.wrapping_sub(ONES * 0x20) & !x) | x.wrapping_add(ONES) | x;
    }
    bad & HIGHS == 0
        && chunks
            .remainder()
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b))
}

/// Whether a header value holds a control character (C0 other than tab, DEL, or C1).
fn has_control(v: &[u8]) -> bool {
    let mut after_c2 = false;
    for &b in v {
        if (b < 0x20 && b != b'\t') || b == 0x7f || (after_c2 && (0x80..=0x9f).contains(&b)) {
            return true;
        }
        after_c2 = b == 0xc2;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_agrees_with_a_byte_loop() {
        let simple = |v: &[u8]| v.iter().all(|&b| (0x20..0x7f).contains(&b));
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut v = vec![b'a'; 17];
                v[at] = b;
                assert_eq!(printable_ascii(&v), simple(&v), "{b:#x} at {at}");
                assert_eq!(printable_ascii(&v[..at]), simple(&v[..at]));
            }
        }
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let len = (rng % 40) as usize;
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // Mostly printable, sometimes anything.
                    if rng.is_multiple_of(7) {
                        (rng >> 8) as u8
                    } else {
                        0x20 + ((rng >> 8) % 95) as u8
                    }
                })
                .collect();
            assert_eq!(printable_ascii(&v), simple(&v), "{v:?}");
        }
    }
}
