//! The serde model of a policy document: exactly what a policy file says, nothing compiled yet.
//!
//! Every table denies unknown keys, so a misspelt `paths` is an error rather than a condition that
//! silently holds for every request.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

mod test_cases;
mod tokens;

pub use crate::vocabulary::{Combine, Effect, EncodedSlash, IpSource, Mode, OnUnknownClient};
pub use test_cases::{ClaimValueDef, TestCaseDef, TestFile, TestRequestDef};
pub use tokens::{ClaimMatcherDef, IssuerDef, JwksDef, ScopeDef, TokenSettings};

/// The whole policy document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The `[policy]` table.
    pub policy: Settings,
    /// The `[client_ip]` table.
    #[serde(default)]
    pub client_ip: ClientIpSettings,
    /// The `[paths]` table.
    #[serde(default)]
    pub paths: PathSettings,
    /// The `[lists]` table: named address lists.
    #[serde(default)]
    pub lists: BTreeMap<String, ListDef>,
    /// The `[keys]` table: API clients.
    #[serde(default)]
    pub keys: Option<KeySettings>,
    /// The `[tokens]` table: trusted bearer-token issuers.
    #[serde(default)]
    pub tokens: Option<TokenSettings>,
    /// The `[[rules]]` array, in file order.
    #[serde(default)]
    pub rules: Vec<RuleDef>,
    /// The `[[tests]]` array: test cases beside the policy.
    #[serde(default)]
    pub tests: Vec<TestCaseDef>,
}

/// The `[policy]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The effect when no rule decides.
    pub default: Effect,
    /// How rules combine.
    #[serde(default)]
    pub combine: Combine,
    /// Whether adapters enforce the decisions.
    #[serde(default)]
    pub mode: Mode,
    /// Lint warnings accepted for the whole policy, and why.
    #[serde(default)]
    pub lint: Option<LintAllow>,
}

/// `lint = { allow = ["report-mode"], reason = "..." }`: lint warnings a rule (or the whole
/// policy, under `[policy]`) accepts, with the reason, which is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintAllow {
    /// Warning codes (`report-mode`, `shadowed`, ...) not to report.
    pub allow: OneOrMany<String>,
    /// Why they are accepted, for the next reader.
    pub reason: String,
}

/// The `[client_ip]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientIpSettings {
    /// Where the client address comes from.
    #[serde(default)]
    pub source: IpSource,
    /// Peers whose forwarding headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// What to do when the client address cannot be determined.
    #[serde(default)]
    pub on_unknown: OnUnknownClient,
    /// The opt-in that allows `0.0.0.0/0` or `::/0` in `trusted_proxies`, for a listener that
    /// only proxies can reach (any client could otherwise choose its own address).
    #[serde(default)]
    pub trust_every_peer: bool,
}

/// The `[paths]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSettings {
    /// Whether path globs match case-sensitively.
    #[serde(default = "yes")]
    pub case_sensitive: bool,
    /// How `%2F` is handled.
    #[serde(default)]
    pub encoded_slash: EncodedSlash,
    /// The longest request target accepted, in bytes.
    #[serde(default = "default_max_target")]
    pub max_length: usize,
}

impl Default for PathSettings {
    fn default() -> Self {
        PathSettings {
            case_sensitive: true,
            encoded_slash: EncodedSlash::Reject,
            max_length: default_max_target(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_max_target() -> usize {
    8 * 1024
}

/// A named address list: inline, or read from a file.
#[derive(Debug, Clone)]
pub enum ListDef {
    /// Addresses and CIDRs written in the policy.
    Inline(Vec<String>),
    /// A file with one address, CIDR or range per line, relative to the policy file.
    File(ListFile),
}

impl ListDef {
    /// The file the list is read from, if it is not inline.
    ///
    /// ```
    /// let policy = portcullis::Policy::from_toml(
    ///     "[policy]\ndefault = \"allow\"\n[lists]\ndrop = { file = \"drop.txt\", on_invalid = \"skip\" }\n",
    /// )?;
    /// let drop = &policy.document().lists["drop"];
    /// assert_eq!(drop.file(), Some("drop.txt"));
    /// # Ok::<(), portcullis::PolicyError>(())
    /// ```
    pub fn file(&self) -> Option<&str> {
        match self {
            ListDef::Inline(_) => None,
            ListDef::File(f) => Some(&f.file),
        }
    }
}

/// A list read from a file: `{ file = "drop.txt", on_invalid = "skip" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    /// The path, relative to the policy file.
    pub file: String,
    /// What a line that is not an address, CIDR or range does.
    pub on_invalid: OnInvalid,
}

/// What an invalid line of a list file does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnInvalid {
    /// The policy does not compile; the error names every bad line (up to a cap).
    #[default]
    Refuse,
    /// The valid lines are loaded; the rest are skipped with a warning
    /// ([`Engine::warnings`](crate::Engine::warnings)). For third-party feeds, where one bad
    /// line should not keep the rest out.
    Skip,
}

impl<'de> Deserialize<'de> for ListDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const FIELDS: &[&str] = &["file", "on_invalid"];
        impl<'de> Visitor<'de> for V {
            type Value = ListDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of addresses or a table `{ file = \"...\" }`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListDef, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(ListDef::Inline(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListDef, A::Error> {
                let mut file = None;
                let mut on_invalid = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "file" if file.is_none() => file = Some(map.next_value::<String>()?),
                        "on_invalid" if on_invalid.is_none() => {
                            on_invalid = Some(map.next_value::<OnInvalid>()?);
                        }
                        "file" | "on_invalid" => {
                            return Err(de::Error::custom(format!("duplicate field `{key}`")))
                        }
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    }
                }
                let file = file.ok_or_else(|| de::Error::missing_field("file"))?;
                Ok(ListDef::File(ListFile {
                    file,
                    on_invalid: on_invalid.unwrap_or_default(),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `[keys]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// The header that carries an API key.
    #[serde(default = "default_key_header")]
    pub header: String,
    /// Whether `Authorization: Bearer <key>` is accepted too.
    #[serde(default = "yes")]
    pub bearer: bool,
    /// The API clients, by name.
    #[serde(default)]
    pub clients: BTreeMap<String, ClientDef>,
}

fn default_key_header() -> String {
    "x-api-key".to_owned()
}

/// One API client under `[keys.clients]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDef {
    /// SHA-256 digests of the client's keys, as 64 hex digits.
    pub sha256: OneOrMany<String>,
    /// The roles the client holds.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// The unique name that appears in every explanation.
    pub name: String,
    /// What the rule does when it applies.
    pub effect: Effect,
    /// A free-form note for people reading the policy.
    #[serde(default)]
    pub description: Option<String>,
    /// The status a forbid rule asks for: 401, 403 or 404.
    #[serde(default)]
    pub status: Option<u16>,
    /// Whether the rule enforces or only reports.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// The conditions that must all hold.
    #[serde(default)]
    pub when: Conditions,
    /// Conditions that, when they all hold, exempt the request from the rule.
    #[serde(default)]
    pub unless: Option<Conditions>,
    /// Lint warnings accepted for this rule, and why.
    #[serde(default)]
    pub lint: Option<LintAllow>,
}

/// A set of conditions: alternatives within a key, all keys together.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Client addresses, CIDRs and `@list` references.
    #[serde(default)]
    pub ip: Option<OneOrMany<String>>,
    /// Path globs.
    #[serde(default)]
    pub path: Option<OneOrMany<String>>,
    /// Methods.
    #[serde(default)]
    pub method: Option<OneOrMany<String>>,
    /// Host globs.
    #[serde(default)]
    pub host: Option<OneOrMany<String>>,
    /// Header matchers by header name.
    #[serde(default)]
    pub header: Option<BTreeMap<String, OneOrMany<HeaderMatcherDef>>>,
    /// User-Agent globs, matched case-insensitively.
    #[serde(default)]
    pub user_agent: Option<OneOrMany<String>>,
    /// API client names.
    #[serde(default)]
    pub client: Option<OneOrMany<String>>,
    /// API client roles.
    #[serde(default)]
    pub role: Option<OneOrMany<String>>,
    /// Whether the request carries a known API key or a valid bearer token.
    #[serde(default)]
    pub authenticated: Option<bool>,
    /// Names of token issuers under `[tokens.issuers]`.
    #[serde(default)]
    pub issuer: Option<OneOrMany<String>>,
    /// Scopes the bearer token must hold: all of a list, or any of `{ any = [...] }`.
    #[serde(default)]
    pub scope: Option<ScopeDef>,
    /// Token claims by name, each with the values it may hold.
    #[serde(default)]
    pub claim: Option<BTreeMap<String, OneOrMany<ClaimMatcherDef>>>,
}

impl Conditions {
    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.path.is_none()
            && self.method.is_none()
            && self.host.is_none()
            && self.header.is_none()
            && self.user_agent.is_none()
            && self.client.is_none()
            && self.role.is_none()
            && self.authenticated.is_none()
            && self.issuer.is_none()
            && self.scope.is_none()
            && self.claim.is_none()
    }
}

/// One header matcher as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMatcherDef {
    /// The whole value, exactly.
    Exact(String),
    /// A glob over the value.
    Glob(String),
    /// An anchored regular expression over the value.
    Regex(String),
    /// The header is present (any value).
    Present,
    /// The header is absent.
    Absent,
}

impl<'de> Deserialize<'de> for HeaderMatcherDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const FIELDS: &[&str] = &["glob", "regex", "present", "absent"];
        impl<'de> Visitor<'de> for V {
            type Value = HeaderMatcherDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a string, or one of `{ glob = .. }`, `{ regex = .. }`, `{ present = true }`, `{ absent = true }`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderMatcherDef, E> {
                Ok(HeaderMatcherDef::Exact(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeaderMatcherDef, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::invalid_length(0, &"exactly one key"));
                };
                let out = match key.as_str() {
                    "glob" => HeaderMatcherDef::Glob(map.next_value()?),
                    "regex" => HeaderMatcherDef::Regex(map.next_value()?),
                    "present" | "absent" => {
                        if !map.next_value::<bool>()? {
                            return Err(de::Error::custom(format!(
                                "`{key} = false` is not a matcher; write the opposite matcher instead"
                            )));
                        }
                        if key == "present" {
                            HeaderMatcherDef::Present
                        } else {
                            HeaderMatcherDef::Absent
                        }
                    }
                    other => return Err(de::Error::unknown_field(other, FIELDS)),
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("a header matcher takes exactly one key"));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// A value written either alone or as an array of alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or an array of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(OneOrMany(out))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::new(v)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                T::deserialize(de::value::BoolDeserializer::new(v)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(de::value::I64Deserializer::new(v)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(de::value::U64Deserializer::new(v)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(de::value::F64Deserializer::new(v)).map(|v| OneOrMany(vec![v]))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|v| OneOrMany(vec![v]))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
