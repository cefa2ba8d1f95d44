//! The model of `[tokens]`: trusted issuers, and the `scope` and `claim` conditions as written.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::OneOrMany;

/// The `[tokens]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Trusted issuers by name.
    #[serde(default)]
    pub issuers: BTreeMap<String, IssuerDef>,
    /// The longest token accepted, in bytes.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
}

fn default_max_token_bytes() -> usize {
    8192
}

/// One issuer under `[tokens.issuers]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerDef {
    /// The `iss` value its tokens carry, exactly.
    pub issuer: String,
    /// Audiences, one of which `aud` must hold.
    pub audiences: Vec<String>,
    /// Where its signing keys are.
    pub jwks: JwksDef,
    /// Signature algorithms accepted.
    pub algorithms: Vec<String>,
    /// Clock skew allowed for `exp` and `nbf`, such as `"30s"`.
    #[serde(default)]
    pub leeway: Option<String>,
    /// The claim whose values count as roles.
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// The claim that names the client.
    #[serde(default)]
    pub client_claim: Option<String>,
    /// The `typ` header values accepted, such as `["at+jwt"]` (RFC 9068 section 4), so that an
    /// ID token of the same issuer cannot stand in for an access token. Absent: any `typ`.
    #[serde(default)]
    pub types: Option<Vec<String>>,
}

/// Where an issuer's key set comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksDef {
    /// A JWKS file, relative to the policy.
    #[serde(default)]
    pub file: Option<String>,
    /// A JWKS URL, fetched in the background.
    #[serde(default)]
    pub url: Option<String>,
    /// How often the URL is fetched again, such as `"10m"`.
    #[serde(default)]
    pub refresh: Option<String>,
    /// The shortest time between two fetches, such as `"30s"`: an unknown key id asks for
    /// a fetch no more often.
    #[serde(default)]
    pub min_interval: Option<String>,
}

/// A `scope` condition as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ScopeDef {
    /// Every scope listed is required.
    All(OneOrMany<String>),
    /// `{ any = [...] }`: one of them is enough.
    Any {
        /// The scopes.
        any: Vec<String>,
    },
}

/// One value a `claim` condition accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimMatcherDef {
    /// The claim is this string.
    Text(String),
    /// The claim is this number.
    Number(f64),
    /// The claim is this boolean.
    Bool(bool),
    /// `{ glob = "..." }`: the claim is a string the glob matches.
    Glob(String),
}

impl<'de> Deserialize<'de> for ClaimMatcherDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClaimMatcherDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number, a boolean or `{ glob = \"...\" }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ClaimMatcherDef::Text(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(ClaimMatcherDef::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ClaimMatcherDef::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ClaimMatcherDef::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ClaimMatcherDef::Number(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut glob = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "glob" if glob.is_none() => glob = Some(map.next_value::<String>()?),
                        other => return Err(de::Error::unknown_field(other, &["glob"])),
                    }
                }
                glob.map(ClaimMatcherDef::Glob)
                    .ok_or_else(|| de::Error::missing_field("glob"))
            }
        }
        d.deserialize_any(V)
    }
}
