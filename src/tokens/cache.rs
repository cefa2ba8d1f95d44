//! The per-thread cache of verified tokens: no lock, bounded, entries ending with the token.

use std::collections::HashMap;
#[cfg(feature = "tokens")]
use std::sync::Arc;

#[cfg(feature = "tokens")]
use crate::engine::claims::Claims;

/// The most tokens one thread keeps.
#[cfg(feature = "tokens")]
pub(crate) const MAX_CACHED_TOKENS: usize = 1024;

/// A thread's verified tokens.
///
/// Entries are found by a keyed hash of the token's last bytes (its signature, which differs
/// between any two tokens an issuer signs) and confirmed by comparing the whole token, which
/// the entry keeps: a SHA-256 of an 800-byte token, or a hash of all of it, would cost more
/// than the rest of a cached decision. Two tokens whose tails hash alike only make each other
/// miss; a hit is always the very token that was verified.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    #[cfg_attr(not(feature = "tokens"), allow(dead_code))]
    entries: HashMap<u64, Entry, foldhash::fast::RandomState>,
    #[cfg_attr(not(feature = "tokens"), allow(dead_code))]
    seed: foldhash::fast::RandomState,
}

/// How many bytes at the end of a token pick its cache entry.
#[cfg(feature = "tokens")]
const TAIL: usize = 32;

#[derive(Debug)]
#[cfg_attr(not(feature = "tokens"), allow(dead_code))]
struct Entry {
    token: Box<[u8]>,
    /// The verifier that verified it (each compiled engine has its own).
    owner: u64,
    /// The generation of the issuer's key set it was verified with.
    generation: u64,
    #[cfg(feature = "tokens")]
    claims: Arc<Claims>,
}

#[cfg(feature = "tokens")]
impl TokenCache {
    /// The claims of `token` if this thread verified it for `owner` and it is still valid at
    /// `now` under key set `generation` (looked up by issuer).
    pub(crate) fn get(
        &self,
        token: &[u8],
        owner: u64,
        now: u64,
        generation: impl Fn(crate::engine::ids::IssuerId) -> u64,
    ) -> Option<&Arc<Claims>> {
        let e = self.entries.get(&self.slot(token))?;
        (*e.token == *token
            && e.owner == owner
            && now <= e.claims.valid_until
            && e.generation == generation(e.claims.issuer))
        .then_some(&e.claims)
    }

    fn slot(&self, token: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        let tail = token
            .get(token.len().saturating_sub(TAIL)..)
            .unwrap_or(token);
        self.seed.hash_one((token.len(), tail))
    }

    /// Remembers a verified token; when full, expired and foreign entries go first, then all.
    pub(crate) fn put(
        &mut self,
        token: &[u8],
        owner: u64,
        generation: u64,
        claims: Arc<Claims>,
        now: u64,
    ) {
        if self.entries.len() >= MAX_CACHED_TOKENS {
            self.entries
                .retain(|_, e| e.owner == owner && now <= e.claims.valid_until);
            if self.entries.len() >= MAX_CACHED_TOKENS {
                self.entries.clear();
            }
        }
        self.entries.insert(
            self.slot(token),
            Entry {
                token: token.into(),
                owner,
                generation,
                claims,
            },
        );
    }
}
