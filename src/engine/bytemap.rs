//! A map from byte strings, tuned for the hot path: a few keys are compared in place, more are
//! hashed.
//!
//! The keys come from the policy and the lookups from requests. A lookup cannot change the
//! table, so a fast, seeded hash gives an attacker nothing to flood.

use std::collections::HashMap;

/// Up to this many keys are compared one by one: cheaper than hashing a short key.
const LINEAR_MAX: usize = 8;

/// An immutable map from byte strings to `V`.
#[derive(Debug, Clone)]
pub(crate) enum ByteMap<V> {
    Few(Box<[(Box<[u8]>, V)]>),
    Many(HashMap<Box<[u8]>, V, foldhash::fast::RandomState>),
}

impl<V> Default for ByteMap<V> {
    fn default() -> Self {
        ByteMap::Few(Box::new([]))
    }
}

impl<V> ByteMap<V> {
    /// Builds the map; a repeated key keeps its last value.
    pub(crate) fn new(entries: impl IntoIterator<Item = (Box<[u8]>, V)>) -> Self {
        let map: HashMap<Box<[u8]>, V, foldhash::fast::RandomState> = entries.into_iter().collect();
        if map.len() <= LINEAR_MAX {
            ByteMap::Few(map.into_iter().collect())
        } else {
            ByteMap::Many(map)
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        match self {
            ByteMap::Few(entries) => entries
                .iter()
                .find(|(k, _)| bytes_eq(k, key))
                .map(|(_, v)| v),
            ByteMap::Many(map) => map.get(key),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            ByteMap::Few(entries) => entries.is_empty(),
            ByteMap::Many(map) => map.is_empty(),
        }
    }
}

/// Byte-string equality without a call for short strings: a method, a path segment or a
/// header name is compared with two overlapping loads, not a trip through `memcmp`.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    #[inline(always)]
    fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
        let mut w = [0u8; N];
        if let Some(part) = s.get(at..at + N) {
            w.copy_from_slice(part);
        }
        w
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => {
            let pick = |s: &[u8]| (s.first().copied(), s.get(n / 2).copied(), s.last().copied());
            pick(a) == pick(b)
        }
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_eq_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..=40 {
            let a = &base[..len];
            assert!(bytes_eq(a, a), "{len}");
            assert!(!bytes_eq(a, &base[..len.saturating_sub(1)]) || len == 0);
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!bytes_eq(a, &b), "{len} at {at}");
            }
        }
    }

    #[test]
    fn few_and_many_agree() {
        for n in [0usize, 1, LINEAR_MAX, LINEAR_MAX + 1, 100] {
            let map = ByteMap::new((0..n).map(|i| (format!("k{i}").into_bytes().into(), i)));
            assert_eq!(matches!(map, ByteMap::Many(_)), n > LINEAR_MAX);
            for i in 0..n {
                assert_eq!(map.get(format!("k{i}").as_bytes()), Some(&i));
            }
            assert_eq!(map.get(b"k"), None);
            assert_eq!(map.get(b""), None);
        }
        let map = ByteMap::new([(b"a".to_vec().into(), 1), (b"a".to_vec().into(), 2)]);
        assert_eq!(map.get(b"a"), Some(&2));
    }
}
