//! Bearer-token claims as the engine reads them, and the slot of `issuer`, `scope` and
//! `claim` conditions.
//!
//! A token is verified once (the `tokens` module, behind its feature) into [`Claims`]: the
//! issuer, scopes, client and roles, and the claims the policy names, already typed. Deciding
//! reads only these; it never parses JSON or checks a signature.

use std::fmt;
use std::sync::Arc;

use crate::engine::bits::clear;
use crate::engine::globs::GlobMatcher;
use crate::engine::ids::{ClauseBit, ClientKey, IssuerId, RoleId};
use crate::engine::slots::SlotScratch;

/// A verified token, as the conditions read it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Claims {
    /// The issuer's index under `[tokens.issuers]` (name order).
    pub(crate) issuer: IssuerId,
    /// When the token stops being valid (its `exp` plus the issuer's leeway), in Unix seconds.
    pub(crate) valid_until: u64,
    /// `scope` split at spaces, or the `scp` array.
    pub(crate) scopes: Vec<String>,
    /// The issuer's `client_claim`, when the token has it (shared: it goes to each
    /// [`Caller`](crate::gate::Caller) of the token).
    pub(crate) client: Option<std::sync::Arc<str>>,
    /// The client's key in the identity slot, when a condition names it.
    pub(crate) client_key: Option<ClientKey>,
    /// The issuer's `roles_claim` values (shared, as `client` is).
    pub(crate) roles: std::sync::Arc<[String]>,
    /// The role keys in the identity slot of the roles that conditions name.
    pub(crate) role_keys: Vec<RoleId>,
    /// Per claim name the policy's conditions read (in the engine's claim order): its value.
    pub(crate) named: Vec<Option<ClaimValue>>,
}

/// A claim's value, as far as conditions can compare it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "tokens"), allow(dead_code))]
pub(crate) enum ClaimValue {
    Text(String),
    Number(f64),
    Bool(bool),
    List(Vec<ClaimValue>),
    /// An object or null: no condition matches it.
    Other,
}

impl fmt::Display for ClaimValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimValue::Text(t) => write!(f, "{t:?}"),
            ClaimValue::Number(n) => write!(f, "{n}"),
            ClaimValue::Bool(b) => write!(f, "{b}"),
            ClaimValue::List(items) => {
                let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            ClaimValue::Other => f.write_str("(an object)"),
        }
    }
}

/// Why a bearer token was not accepted. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TokenProblem {
    /// The token is longer than `max_token_bytes`.
    TooLarge {
        /// Its length.
        bytes: usize,
    },
    /// Not three base64url parts, or a part that does not decode.
    Malformed,
    /// `iss` names no configured issuer.
    UnknownIssuer {
        /// The `iss` it held (absent: empty).
        iss: String,
    },
    /// `alg` is not among the issuer's algorithms (`none` and HMAC never are).
    Algorithm {
        /// The issuer's name.
        issuer: String,
        /// The `alg` it held.
        alg: String,
    },
    /// The token's `typ` header is not one the issuer's `types` accepts (RFC 9068: an ID
    /// token is not an access token).
    Type {
        /// The issuer's name.
        issuer: String,
        /// The `typ` it held.
        typ: Option<String>,
        /// The types accepted.
        wanted: Vec<String>,
    },
    /// No key of the issuer's key set has the token's `kid` (or the key's type does not fit
    /// `alg`).
    UnknownKey {
        /// The issuer's name.
        issuer: String,
        /// The `kid` it held.
        kid: Option<String>,
    },
    /// The signature does not verify.
    Signature {
        /// The issuer's name.
        issuer: String,
    },
    /// `exp` is past (beyond the leeway).
    Expired {
        /// The issuer's name.
        issuer: String,
        /// How long ago, in seconds.
        ago: u64,
    },
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid {
        /// The issuer's name.
        issuer: String,
        /// In how long, in seconds.
        r#in: u64,
    },
    /// `aud` holds none of the issuer's audiences.
    Audience {
        /// The issuer's name.
        issuer: String,
        /// What `aud` held.
        held: Vec<String>,
        /// The audiences accepted.
        wanted: Vec<String>,
    },
    /// A claim every access token must have (`exp`, `iss`, `aud`) is missing or mistyped.
    MissingClaim {
        /// The issuer's name.
        issuer: String,
        /// The claim.
        claim: String,
    },
}

fn ago(seconds: u64) -> String {
    match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7199 => format!("{} min", seconds / 60),
        _ => format!("{} h", seconds / 3600),
    }
}

impl fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenProblem::TooLarge { bytes } => write!(f, "token of {bytes} bytes is too long"),
            TokenProblem::Malformed => f.write_str("token is not a well-formed JWT"),
            TokenProblem::UnknownIssuer { iss } => write!(f, "iss {iss:?} is no trusted issuer"),
            TokenProblem::Algorithm { issuer, alg } => {
                write!(f, "issuer {issuer:?}: alg {alg:?} is not accepted")
            }
            TokenProblem::Type {
                issuer,
                typ,
                wanted,
            } => {
                let wanted: Vec<String> = wanted.iter().map(|w| format!("{w:?}")).collect();
                match typ {
                    Some(typ) => write!(f, "issuer {issuer:?}: typ {typ:?} is not "),
                    None => write!(f, "issuer {issuer:?}: the token has no typ, not "),
                }?;
                f.write_str(&wanted.join(" or "))
            }
            TokenProblem::UnknownKey { issuer, kid } => match kid {
                Some(kid) => write!(f, "issuer {issuer:?}: no key {kid:?} fits the token"),
                None => write!(f, "issuer {issuer:?}: the token names no key id"),
            },
            TokenProblem::Signature { issuer } => {
                write!(f, "issuer {issuer:?}: the signature does not verify")
            }
            TokenProblem::Expired { issuer, ago: s } => {
                write!(f, "issuer {issuer:?}: token expired {} ago", ago(*s))
            }
            TokenProblem::NotYetValid { issuer, r#in: s } => {
                write!(
                    f,
                    "issuer {issuer:?}: token not valid for another {}",
                    ago(*s)
                )
            }
            TokenProblem::Audience {
                issuer,
                held,
                wanted,
            } => {
                let wanted: Vec<String> = wanted.iter().map(|w| format!("{w:?}")).collect();
                write!(
                    f,
                    "issuer {issuer:?}: aud {held:?} is not {}",
                    wanted.join(" or ")
                )
            }
            TokenProblem::MissingClaim { issuer, claim } => {
                write!(
                    f,
                    "issuer {issuer:?}: claim `{claim}` is missing or invalid"
                )
            }
        }
    }
}

impl TokenProblem {
    /// What a client may be told about it (RFC 6750 `error_description`), without the
    /// policy's details.
    pub fn fault(&self) -> TokenFault {
        match self {
            TokenProblem::Expired { .. } => TokenFault::Expired,
            TokenProblem::NotYetValid { .. } => TokenFault::NotYetValid,
            _ => TokenFault::Invalid,
        }
    }
}

/// What a client is told about a token that did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenFault {
    /// `exp` is past.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// Anything else: signature, issuer, audience, algorithm, form.
    Invalid,
}

impl TokenFault {
    /// The `error_description` of the challenge.
    pub fn description(self) -> &'static str {
        match self {
            TokenFault::Expired => "the access token expired",
            TokenFault::NotYetValid => "the access token is not valid yet",
            TokenFault::Invalid => "the access token is not valid",
        }
    }
}

/// What the request's bearer token says.
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "tokens"), allow(dead_code))]
pub(crate) enum TokenState {
    /// No token (or the policy reads none).
    #[default]
    None,
    /// A token that did not verify.
    Invalid(Arc<TokenProblem>),
    /// A verified token.
    Valid(Arc<Claims>),
}

impl TokenState {
    pub(crate) fn claims(&self) -> Option<&Claims> {
        match self {
            TokenState::Valid(c) => Some(c),
            _ => None,
        }
    }
}

/// One `issuer`, `scope` or `claim` condition, compiled.
#[derive(Debug, Clone)]
pub(crate) enum ClaimTest {
    /// The token's issuer is one of these.
    Issuer(Vec<IssuerId>),
    /// The token holds every scope (`any`: at least one).
    Scope { any: bool, scopes: Vec<String> },
    /// The named claim (an index into `Claims::named`) matches one of the matchers; an array
    /// claim matches when one of its elements does.
    Claim {
        claim: usize,
        matchers: Vec<ClaimMatcher>,
    },
}

/// One value a `claim` condition accepts.
#[derive(Debug, Clone)]
pub(crate) enum ClaimMatcher {
    Text(String),
    Number(f64),
    Bool(bool),
    Glob(Box<GlobMatcher>),
}

impl ClaimMatcher {
    fn matches(&self, value: &ClaimValue, s: &mut SlotScratch) -> bool {
        match (self, value) {
            (_, ClaimValue::List(items)) => items.iter().any(|v| self.matches(v, s)),
            (ClaimMatcher::Text(t), ClaimValue::Text(v)) => t == v,
            (ClaimMatcher::Number(n), ClaimValue::Number(v)) => n == v,
            (ClaimMatcher::Bool(b), ClaimValue::Bool(v)) => b == v,
            (ClaimMatcher::Glob(g), ClaimValue::Text(v)) => {
                s.glob_hits.clear();
                g.matches_into(v.as_bytes(), &mut s.glob_hits, &mut s.globs);
                !s.glob_hits.is_empty()
            }
            _ => false,
        }
    }
}

impl ClaimTest {
    /// Whether the test holds for a verified token; without one, no test holds.
    pub(crate) fn holds(&self, claims: Option<&Claims>, s: &mut SlotScratch) -> bool {
        let Some(c) = claims else {
            return false;
        };
        match self {
            ClaimTest::Issuer(issuers) => issuers.contains(&c.issuer),
            ClaimTest::Scope { any: false, scopes } => {
                scopes.iter().all(|w| c.scopes.iter().any(|h| h == w))
            }
            ClaimTest::Scope { any: true, scopes } => {
                scopes.iter().any(|w| c.scopes.iter().any(|h| h == w))
            }
            ClaimTest::Claim { claim, matchers } => match c.named.get(*claim) {
                Some(Some(value)) => matchers.iter().any(|m| m.matches(value, s)),
                _ => false,
            },
        }
    }

    /// Whether this is a `scope` test.
    pub(crate) fn is_scope(&self) -> bool {
        matches!(self, ClaimTest::Scope { .. })
    }
}

/// The `issuer`, `scope` and `claim` conditions of every rule: each clears its clause bit when
/// it does not hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimSlot {
    pub(crate) tests: Vec<(ClauseBit, ClaimTest)>,
    /// The claim names `ClaimTest::Claim` reads, in `Claims::named` order.
    pub(crate) names: Vec<String>,
}

/// Which tests of the claim slot to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimView {
    /// Every test: what a decision reads.
    All,
    /// One test alone: what an explanation of that condition reads.
    One(usize),
    /// Every test, with `scope` tests taken as held: whether the token lacks only scopes.
    ScopesGranted,
}

impl ClaimSlot {
    /// `acc &=` the slot's bits: a clause bit is cleared when one of its tests fails.
    pub(crate) fn and_into(
        &self,
        acc: &mut [u64],
        claims: Option<&Claims>,
        view: ClaimView,
        s: &mut SlotScratch,
    ) {
        for (k, (bit, test)) in self.tests.iter().enumerate() {
            let read = match view {
                ClaimView::All => true,
                ClaimView::One(only) => only == k,
                ClaimView::ScopesGranted => !test.is_scope(),
            };
            if read && !test.holds(claims, s) {
                clear(acc, *bit);
            }
        }
    }

    /// Whether some condition is a `scope` test.
    pub(crate) fn has_scope_tests(&self) -> bool {
        self.tests.iter().any(|(_, t)| t.is_scope())
    }
}
