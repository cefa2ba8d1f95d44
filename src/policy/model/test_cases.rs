//! The model of test cases (`[[tests]]` in a policy, or a `*.tests.toml` file).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Effect, OneOrMany};

/// A file of test cases (`*.tests.toml`): only a `[[tests]]` array.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The cases.
    #[serde(default)]
    pub tests: Vec<TestCaseDef>,
}

/// One `[[tests]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCaseDef {
    /// The case's name, shown when it fails.
    pub name: String,
    /// The request to decide.
    pub request: TestRequestDef,
    /// The expected decision: `"allow"` or `"forbid"`.
    pub expect: Effect,
    /// The rule that must decide (`"default"` for the policy default).
    #[serde(default)]
    pub rule: Option<String>,
    /// The status the decision must carry.
    #[serde(default)]
    pub status: Option<u16>,
}

/// The request of a test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequestDef {
    /// The TCP peer address.
    pub peer: String,
    /// The method (`GET` when absent).
    #[serde(default = "default_method")]
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// Header lines by name; an array repeats the header.
    #[serde(default)]
    pub headers: BTreeMap<String, OneOrMany<String>>,
    /// An API key, sent in the policy's key header. Use test keys only: test files are not
    /// the place for real secrets.
    #[serde(default)]
    pub key: Option<String>,
    /// Claims of a bearer token the test harness signs with a key of its own (`iss` and
    /// `aud` default to the policy's only issuer, `exp` to an hour from now).
    #[serde(default)]
    pub token_claims: Option<BTreeMap<String, ClaimValueDef>>,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// A claim value of a test case's token, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimValueDef {
    /// A string.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An array.
    List(Vec<ClaimValueDef>),
    /// An object.
    Map(BTreeMap<String, ClaimValueDef>),
}

impl<'de> Deserialize<'de> for ClaimValueDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClaimValueDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ClaimValueDef::Text(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(ClaimValueDef::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ClaimValueDef::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(ClaimValueDef::Integer)
                    .or(Ok(ClaimValueDef::Float(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ClaimValueDef::Float(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(ClaimValueDef::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, ClaimValueDef>()? {
                    out.insert(k, v);
                }
                Ok(ClaimValueDef::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}
