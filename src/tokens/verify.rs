//! Verifying one token into [`Claims`], through the thread's cache.

use crate::engine::ids::{ClientKey, IssuerId, RoleId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::cache::TokenCache;
use super::jwks::KeySource;
use crate::engine::claims::{ClaimValue, Claims, TokenProblem, TokenState};

/// One trusted issuer, compiled.
#[derive(Debug)]
pub(crate) struct IssuerConfig {
    pub(crate) name: String,
    pub(crate) iss: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    /// The `typ` values accepted, as [`media_type`](super::media_type) gives them; empty: any.
    pub(crate) types: Vec<String>,
    pub(crate) leeway: u64,
    pub(crate) roles_claim: Option<String>,
    pub(crate) client_claim: Option<String>,
    pub(crate) keys: Arc<KeySource>,
}

/// The issuers of one compiled policy, and what its conditions read from claims.
#[derive(Debug)]
pub(crate) struct Verifier {
    /// Unique per verifier: cache entries of another engine never count.
    pub(crate) id: u64,
    pub(crate) issuers: Vec<IssuerConfig>,
    /// The claim names conditions read, in `Claims::named` order.
    pub(crate) claim_names: Vec<String>,
    /// Client names and role names that identity conditions mention, with their keys.
    pub(crate) client_keys: HashMap<String, ClientKey>,
    pub(crate) role_keys: HashMap<String, RoleId>,
}

static NEXT_VERIFIER: AtomicU64 = AtomicU64::new(1);

impl Verifier {
    pub(crate) fn new(issuers: Vec<IssuerConfig>) -> Verifier {
        Verifier {
            id: NEXT_VERIFIER.fetch_add(1, Ordering::Relaxed),
            issuers,
            claim_names: Vec::new(),
            client_keys: HashMap::new(),
            role_keys: HashMap::new(),
        }
    }

    /// The claims of `token` if this thread verified it and they still hold now.
    #[inline]
    pub(crate) fn cached(&self, token: &[u8], cache: &TokenCache) -> Option<TokenState> {
        let generation = |issuer: IssuerId| {
            self.issuers
                .get(issuer.as_usize())
                .map_or(u64::MAX, |i| i.keys.generation())
        };
        let claims = cache.get(token, self.id, now(), generation)?;
        Some(TokenState::Valid(Arc::clone(claims)))
    }

    /// Verifies `token`, and keeps it in this thread's cache when it is valid.
    pub(crate) fn verify_and_keep(&self, token: &[u8], cache: &mut TokenCache) -> TokenState {
        let now = now();
        match self.verify(token, now) {
            Ok((claims, generation)) => {
                let claims = Arc::new(claims);
                cache.put(token, self.id, generation, Arc::clone(&claims), now);
                TokenState::Valid(claims)
            }
            Err(problem) => TokenState::Invalid(Arc::new(problem)),
        }
    }

    /// Verifies a token's signature and registered claims, and reads the claims the policy
    /// names.
    fn verify(&self, token: &[u8], now: u64) -> Result<(Claims, u64), TokenProblem> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenProblem::Malformed)?;
        // The issuer is chosen by the unverified `iss`; the verification then requires it.
        let peek: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenProblem::Malformed)?;
        let iss = peek.get("iss").and_then(Value::as_str).unwrap_or("");
        let found = self.issuers.iter().enumerate().find(|(_, i)| i.iss == iss);
        let Some((index, issuer)) = found.and_then(|(i, issuer)| Some((IssuerId::new(i)?, issuer)))
        else {
            return Err(TokenProblem::UnknownIssuer {
                iss: iss.to_owned(),
            });
        };
        let name = || issuer.name.clone();
        if !issuer.algorithms.contains(&header.alg) {
            return Err(TokenProblem::Algorithm {
                issuer: name(),
                alg: format!("{:?}", header.alg),
            });
        }
        let typ_ok = |t: &str| issuer.types.contains(&super::media_type(t));
        if !issuer.types.is_empty() && !header.typ.as_deref().is_some_and(typ_ok) {
            return Err(TokenProblem::Type {
                issuer: name(),
                typ: header.typ.clone(),
                wanted: issuer.types.clone(),
            });
        }
        let generation = issuer.keys.generation();
        let set = issuer.keys.current();
        let Some(key) = set.find(header.kid.as_deref(), header.alg) else {
            issuer.keys.request_refresh(generation);
            return Err(TokenProblem::UnknownKey {
                issuer: name(),
                kid: header.kid.clone(),
            });
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&issuer.iss]);
        validation.set_audience(&issuer.audiences);
        validation.leeway = issuer.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, key, &validation).map_err(|e| {
            let number = |claim: &str| peek.get(claim).and_then(Value::as_u64).unwrap_or(now);
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenProblem::Expired {
                    issuer: name(),
                    ago: now.saturating_sub(number("exp")),
                },
                ErrorKind::ImmatureSignature => TokenProblem::NotYetValid {
                    issuer: name(),
                    r#in: number("nbf").saturating_sub(now),
                },
                ErrorKind::InvalidAudience => TokenProblem::Audience {
                    issuer: name(),
                    held: strings(peek.get("aud")),
                    wanted: issuer.audiences.clone(),
                },
                ErrorKind::InvalidIssuer => TokenProblem::UnknownIssuer {
                    iss: iss.to_owned(),
                },
                ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => {
                    TokenProblem::MissingClaim {
                        issuer: name(),
                        claim: c.clone(),
                    }
                }
                ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                    TokenProblem::Algorithm {
                        issuer: name(),
                        alg: format!("{:?}", header.alg),
                    }
                }
                ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                    TokenProblem::Malformed
                }
                _ => TokenProblem::Signature { issuer: name() },
            }
        })?;
        let claims = data.claims;
        let exp = claims.get("exp").and_then(Value::as_u64).ok_or_else(|| {
            TokenProblem::MissingClaim {
                issuer: name(),
                claim: "exp".to_owned(),
            }
        })?;
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
            (_, Some(scp)) => strings(Some(scp)),
            _ => Vec::new(),
        };
        let client = issuer
            .client_claim
            .as_deref()
            .and_then(|c| claims.get(c))
            .and_then(Value::as_str)
            .map(Arc::<str>::from);
        let roles: Arc<[String]> = issuer
            .roles_claim
            .as_deref()
            .map(|c| strings(claims.get(c)))
            .unwrap_or_default()
            .into();
        let client_key = client
            .as_deref()
            .and_then(|c| self.client_keys.get(c).copied());
        let role_keys = roles
            .iter()
            .filter_map(|r| self.role_keys.get(r).copied())
            .collect();
        let named = self
            .claim_names
            .iter()
            .map(|n| claims.get(n).map(claim_value))
            .collect();
        Ok((
            Claims {
                issuer: index,
                valid_until: exp.saturating_add(issuer.leeway),
                scopes,
                client,
                client_key,
                roles,
                role_keys,
                named,
            },
            generation,
        ))
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        for i in &self.issuers {
            i.keys.stop();
        }
    }
}

/// A string or an array of strings, as a list (other elements are left out).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn claim_value(v: &Value) -> ClaimValue {
    match v {
        Value::String(s) => ClaimValue::Text(s.clone()),
        Value::Bool(b) => ClaimValue::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(ClaimValue::Other, ClaimValue::Number),
        Value::Array(items) => ClaimValue::List(items.iter().map(claim_value).collect()),
        Value::Null | Value::Object(_) => ClaimValue::Other,
    }
}

/// The current time in Unix seconds.
pub(crate) fn now() -> u64 {
    // The kernel's coarse wall clock is read without touching the hardware clock: a few
    // nanoseconds a decision instead of tens, at a resolution of milliseconds, far finer than
    // the seconds that `exp` and `nbf` count in.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        u64::try_from(t.tv_sec).unwrap_or(0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
