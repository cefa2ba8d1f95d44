//! The serde model of a policy document: exactly what a policy file says, nothing compiled yet.
//!
//! Every table denies unknown keys, so a misspelt `paths` is an error rather than a condition that
//! silently holds for every request.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

pub use crate::vocabulary::{Combine, Effect, EncodedSlash, IpSource, Mode, OnUnknownClient};

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
