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
                .find(|(k, _)| k.len() == key.len() && **k == *key)
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

#[cfg(test)]
mod tests {
    use super::*;

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
