//! The per-thread cache of verified tokens: no lock, bounded, entries ending with the token.

use std::collections::HashMap;
#[cfg(feature = "tokens")]
use std::sync::Arc;

#[cfg(feature = "tokens")]
use crate::engine::claims::Claims;

/// The most tokens one thread keeps.
#[cfg(feature = "tokens")]
pub(crate) const MAX_CACHED_TOKENS: usize = 1024;

/// A thread's verified tokens, keyed by the whole token.
///
/// The key is the token itself, not a digest of it: hashing an 800-byte token with SHA-256
/// costs more than the whole budget of a cached decision, and a fast hash alone could be made
/// to collide. The map's hash is keyed per process, and a hit compares the token exactly.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    #[cfg_attr(not(feature = "tokens"), allow(dead_code))]
    entries: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
}

#[derive(Debug)]
#[cfg_attr(not(feature = "tokens"), allow(dead_code))]
struct Entry {
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
        generation: impl Fn(u32) -> u64,
    ) -> Option<&Arc<Claims>> {
        let e = self.entries.get(token)?;
        (e.owner == owner
            && now <= e.claims.valid_until
            && e.generation == generation(e.claims.issuer))
        .then_some(&e.claims)
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
            token.into(),
            Entry {
                owner,
                generation,
                claims,
            },
        );
    }
}
