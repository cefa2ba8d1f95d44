//! Bearer tokens: verifying JWT access tokens against their issuers' key sets, once per token.
//!
//! # What is verified
//!
//! A token is accepted only when all of this holds (RFC 8725, RFC 9068):
//!
//! - it is at most `max_token_bytes` long and is a compact JWS of three base64url parts;
//! - its `iss` is exactly the `issuer` of one `[tokens.issuers.NAME]`;
//! - its `alg` is one of that issuer's `algorithms` (`none` and the HMAC algorithms never
//!   are) and fits the type of the key its `kid` selects from the issuer's key set;
//! - the signature verifies with that key. Keys named by the token itself (`jku`, `x5u`, an
//!   embedded `jwk`) are never used, and symmetric (`oct`) keys in a key set are ignored;
//! - `exp` is present and not past, `nbf` (when present) not in the future, both with the
//!   issuer's `leeway`; `aud` holds one of the issuer's `audiences`.
//!
//! # Which crate, and why
//!
//! Signatures are checked by [`jsonwebtoken`] with its `rust_crypto` backend: the most used
//! JOSE crate in the ecosystem, kept up by its maintainer for years, with RS/PS/ES/EdDSA and
//! JWK parsing in one place. The RustCrypto backend (`rsa`, `p256`, `p384`, `ed25519-dalek`)
//! is pure Rust, so the crate builds without a C toolchain and without `aws-lc`. `jwt-simple`
//! was the alternative; it bundles its own claim model and validation policy, where this
//! module needs the raw claims to decide on.
//!
//! # Key sets
//!
//! A key set comes from a file (read when the policy is compiled, so it reloads with the
//! policy, as list files do) or a URL, fetched by one background thread per issuer with a
//! small blocking client (`ureq`): no async runtime in the core. It is fetched again every
//! `refresh`, and early when a token names an unknown `kid`, but never twice within
//! `min_interval`, so tokens with random key ids cannot turn into a fetch flood. A failed fetch
//! keeps the last good key set.
//!
//! # Speed
//!
//! Each thread keeps a bounded cache of the tokens it has verified, keyed by the whole token
//! (hashed with a fast keyed hash, compared exactly), whose entries end when the token
//! expires or the issuer's key set changes. A cached token costs a hash and a compare; a new
//! one costs one signature verification.

mod cache;
#[cfg(feature = "tokens")]
mod jwks;
#[cfg(feature = "tokens")]
pub(crate) mod signer;
mod url;
#[cfg(feature = "tokens")]
mod verify;

pub(crate) use cache::TokenCache;
pub(crate) use url::key_set_url_allowed;

use crate::engine::claims::TokenState;

/// The compiled `[tokens]` table: the issuers, the verifier, and what conditions read.
#[derive(Debug)]
pub(crate) struct Tokens {
    /// The issuers' names, in name order (the `issuer` index of claims).
    pub(crate) names: Vec<String>,
    /// The longest token accepted.
    pub(crate) max_bytes: usize,
    #[cfg(feature = "tokens")]
    pub(crate) verifier: verify::Verifier,
}

impl Tokens {
    /// The state of a token this thread has verified before and still holds, if it does: a
    /// hash and a compare, no signature.
    #[cfg_attr(not(feature = "tokens"), allow(unused_variables))]
    #[inline]
    pub(crate) fn cached(&self, token: &[u8], cache: &TokenCache) -> Option<TokenState> {
        #[cfg(feature = "tokens")]
        {
            self.verifier.cached(token, cache)
        }
        #[cfg(not(feature = "tokens"))]
        {
            None
        }
    }

    /// Verifies a token this thread does not hold, and keeps it when it is valid.
    #[cfg_attr(not(feature = "tokens"), allow(unused_variables))]
    pub(crate) fn verify(&self, token: &[u8], cache: &mut TokenCache) -> TokenState {
        if token.len() > self.max_bytes {
            return TokenState::Invalid(std::sync::Arc::new(
                crate::engine::claims::TokenProblem::TooLarge { bytes: token.len() },
            ));
        }
        #[cfg(feature = "tokens")]
        {
            self.verifier.verify_and_keep(token, cache)
        }
        #[cfg(not(feature = "tokens"))]
        {
            TokenState::None
        }
    }
}

#[cfg(feature = "tokens")]
pub(crate) use jwks::{KeySet, KeySource, Remote};
#[cfg(feature = "tokens")]
pub(crate) use verify::{IssuerConfig, Verifier};

impl Tokens {
    /// The compiled `[tokens]`: the issuers, and the claim names and identity keys that the
    /// policy's conditions read.
    #[cfg_attr(not(feature = "tokens"), allow(unused_variables))]
    pub(crate) fn new(
        setup: crate::compile::tokens::TokenSetup,
        claim_names: Vec<String>,
        ident: &crate::compile::slots::IdentBuilt,
    ) -> Tokens {
        #[cfg(feature = "tokens")]
        let verifier = {
            let mut v = Verifier::new(setup.issuers);
            v.claim_names = claim_names;
            v.client_keys = ident.client_keys.clone();
            v.role_keys = ident.role_keys.clone();
            v
        };
        Tokens {
            names: setup.names,
            max_bytes: setup.max_bytes,
            #[cfg(feature = "tokens")]
            verifier,
        }
    }
}

impl crate::Engine {
    /// Waits until every token issuer has a key set (a URL's first fetch), at most `timeout`;
    /// true when they all have one. Policies without `[tokens]`, and key set files, are ready
    /// at once.
    ///
    /// A request whose token arrives before its issuer's keys is refused as carrying an
    /// unknown key; servers call this once after compiling, tools before explaining.
    pub fn wait_for_token_keys(&self, timeout: std::time::Duration) -> bool {
        #[cfg(feature = "tokens")]
        if let Some(t) = &self.callers.tokens {
            let deadline = std::time::Instant::now() + timeout;
            while !t.verifier.issuers.iter().all(|i| i.keys.loaded()) {
                if std::time::Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let _ = timeout;
        true
    }

    /// How many times the key sets of this engine's issuers were fetched from their URLs.
    pub fn token_key_fetches(&self) -> u64 {
        #[cfg(feature = "tokens")]
        if let Some(t) = &self.callers.tokens {
            return t.verifier.issuers.iter().map(|i| i.keys.fetches()).sum();
        }
        0
    }
}

/// A `typ` value as compared: lowercase, without `application/`, which RFC 7515 section
/// 4.1.9 lets a producer leave out.
#[cfg(feature = "tokens")]
pub(crate) fn media_type(typ: &str) -> String {
    let typ = typ.trim().to_ascii_lowercase();
    match typ.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => typ,
    }
}
