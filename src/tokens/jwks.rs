//! Issuers' key sets: parsed from JWKS documents, held behind an atomic pointer, refreshed
//! from a URL by a background thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// The largest JWKS document accepted, in bytes.
pub(crate) const MAX_JWKS_BYTES: u64 = 1024 * 1024;

/// One usable public key.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) family: AlgorithmFamily,
    /// The `alg` the key set pins it to, if any.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

/// A parsed key set.
#[derive(Default)]
pub(crate) struct KeySet {
    pub(crate) keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// Parses a JWKS document. Symmetric keys and keys of unsupported types are left out; a
    /// document with no usable key is an error.
    pub(crate) fn parse(text: &[u8]) -> Result<KeySet, String> {
        let set: JwkSet =
            serde_json::from_slice(text).map_err(|e| format!("not a JWKS document: {e}"))?;
        let keys: Vec<Key> = set.keys.iter().filter_map(usable).collect();
        if keys.is_empty() {
            return Err("the key set holds no usable public key".to_owned());
        }
        Ok(KeySet { keys })
    }

    /// A key set of one key (the test harness's).
    pub(crate) fn single(kid: &str, family: AlgorithmFamily, key: DecodingKey) -> KeySet {
        KeySet {
            keys: vec![Key {
                kid: Some(kid.to_owned()),
                family,
                alg: None,
                key,
            }],
        }
    }

    /// The key for a token's `kid` and `alg`: the key with that id whose type fits `alg`; a
    /// token without `kid` only when exactly one key fits.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let fits = |k: &&Key| k.family == alg.family() && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(fits)
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| &k.key),
            None => {
                let mut it = self.keys.iter().filter(fits);
                match (it.next(), it.next()) {
                    (Some(k), None) => Some(&k.key),
                    _ => None,
                }
            }
        }
    }
}

fn usable(jwk: &Jwk) -> Option<Key> {
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let family = key.family();
    if family == AlgorithmFamily::Hmac {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(pinned(a)?),
    };
    Some(Key {
        kid: jwk.common.key_id.clone(),
        family,
        alg,
        key,
    })
}

/// The signature algorithm a JWK's `alg` pins it to; `None` for anything else (encryption
/// algorithms, HMAC), which leaves the key out.
fn pinned(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Where a key set is fetched from, and how often.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub(crate) url: String,
    pub(crate) refresh: Duration,
    pub(crate) min_interval: Duration,
}

/// An issuer's current key set, and the fetching behind it.
#[derive(Debug)]
pub(crate) struct KeySource {
    set: ArcSwap<KeySet>,
    generation: AtomicU64,
    remote: Option<Remote>,
    wake: Mutex<Wake>,
    signal: Condvar,
    fetches: AtomicU64,
    loaded: AtomicBool,
}

#[derive(Debug, Default)]
struct Wake {
    /// An early fetch asked for, with the newest key-set generation an asker had looked in:
    /// once a fetch has brought a newer set, the request is spent (an asker that still finds
    /// no key asks again, against the new set).
    requested: Option<u64>,
    stop: bool,
}

impl KeySource {
    /// A key set that never changes (a file, or the test harness's key).
    pub(crate) fn fixed(set: KeySet) -> Arc<KeySource> {
        Arc::new(KeySource {
            set: ArcSwap::from_pointee(set),
            generation: AtomicU64::new(0),
            remote: None,
            wake: Mutex::new(Wake::default()),
            signal: Condvar::new(),
            fetches: AtomicU64::new(0),
            loaded: AtomicBool::new(true),
        })
    }

    /// A key set fetched from `remote` by a background thread, which ends when the source is
    /// dropped.
    pub(crate) fn remote(remote: Remote, issuer: &str) -> Result<Arc<KeySource>, String> {
        let source = Arc::new(KeySource {
            set: ArcSwap::from_pointee(KeySet::default()),
            generation: AtomicU64::new(0),
            remote: Some(remote),
            wake: Mutex::new(Wake {
                requested: Some(0),
                stop: false,
            }),
            signal: Condvar::new(),
            fetches: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&source);
        let name = issuer.to_owned();
        std::thread::Builder::new()
            .name("portcullis-jwks".into())
            .spawn(move || refresh_loop(&weak, &name))
            .map_err(|e| format!("cannot start the key-set thread: {e}"))?;
        Ok(source)
    }

    /// The current key set.
    pub(crate) fn current(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.set.load()
    }

    /// Changes whenever the key set does.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many fetches were made.
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Whether a key set has been loaded yet.
    pub(crate) fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Asks for an early fetch: a token named a key that the set of generation `seen`
    /// lacks. The thread decides when; a fetch that ends after the asking, or a set newer than
    /// `seen`, answers it.
    pub(crate) fn request_refresh(&self, seen: u64) {
        if self.remote.is_none() {
            return;
        }
        if let Ok(mut w) = self.wake.lock() {
            w.requested = Some(w.requested.map_or(seen, |g| g.max(seen)));
            self.signal.notify_one();
        }
    }

    fn store(&self, set: KeySet) {
        self.set.store(Arc::new(set));
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.loaded.store(true, Ordering::Release);
    }

    /// Stops the background thread.
    pub(crate) fn stop(&self) {
        if let Ok(mut w) = self.wake.lock() {
            w.stop = true;
            self.signal.notify_one();
        }
    }
}

/// Fetches on schedule and on request, never twice within `min_interval`, until the source
/// is gone or stopped.
fn refresh_loop(weak: &Weak<KeySource>, issuer: &str) {
    let mut last: Option<Instant> = None;
    loop {
        let Some(source) = weak.upgrade() else {
            return;
        };
        let Some(remote) = source.remote.clone() else {
            return;
        };
        // Wait for a request or the schedule, then for the interval since the last fetch.
        {
            let Ok(mut w) = source.wake.lock() else {
                return;
            };
            loop {
                if w.stop {
                    return;
                }
                let now = Instant::now();
                let due = last.map_or(now, |l| l + remote.refresh);
                let earliest = last.map_or(now, |l| l + remote.min_interval);
                // Asked against a set older than the current one: a fetch since has answered.
                if w.requested.is_some_and(|g| g < source.generation()) {
                    w.requested = None;
                }
                let wake_at = if w.requested.is_some() { earliest } else { due };
                if now >= wake_at {
                    break;
                }
                // Bounded waits: the loop notices a dropped source within a second.
                let wait = (wake_at - now).min(Duration::from_secs(1));
                w = match source.signal.wait_timeout(w, wait) {
                    Ok((w, _)) => w,
                    Err(_) => return,
                };
                if Arc::strong_count(&source) == 1 {
                    return;
                }
            }
            w.requested = None;
        }
        last = Some(Instant::now());
        source.fetches.fetch_add(1, Ordering::Relaxed);
        match fetch(&remote.url) {
            Ok(set) => {
                tracing::debug!(target: "portcullis", issuer, keys = set.keys.len(), "key set fetched");
                source.store(set);
            }
            Err(e) => {
                tracing::warn!(target: "portcullis", issuer, url = %remote.url, "key set fetch failed, keeping the last good one: {e}");
            }
        }
        drop(source);
    }
}

fn fetch(url: &str) -> Result<KeySet, String> {
    // Checked when the policy compiles; checked again where the request is made.
    if !super::key_set_url_allowed(url) {
        return Err("plain http is fetched only from loopback".to_owned());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    KeySet::parse(&body)
}
