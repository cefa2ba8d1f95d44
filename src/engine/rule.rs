//! The rule model of a compiled policy: rules, their clauses and conditions as compiled,
//! kept for the public API and for explanations.

use ipnet::IpNet;

use super::ids::{AtomId, ListId};
use super::plan::SlotRef;
use super::slots::IdentPart;
use super::verdict::RuleId;
use crate::error::Location;
use crate::vocabulary::{Effect, Mode};

/// One rule of a compiled policy: its name, effect and place in the source.
///
/// # Examples
///
/// ```
/// use portcullis::{Effect, Policy};
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///
///     [[rules]]
///     name = "office-only"
///     effect = "forbid"
///     description = "The admin area is reachable from the office only."
///     when = { path = ["/admin/**"] }
///     unless = { ip = ["203.0.113.0/24"] }
/// "#)?.compile()?;
///
/// let rule = &engine.rules()[0];
/// assert_eq!(rule.name(), "office-only");
/// assert_eq!(rule.effect(), Effect::Forbid);
/// assert_eq!(rule.condition_count(), (1, 1));
/// assert_eq!(rule.location().map(|l| l.line), Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) id: RuleId,
    pub(crate) name: String,
    pub(crate) effect: Effect,
    pub(crate) status: u16,
    pub(crate) mode: Mode,
    pub(crate) location: Option<Location>,
    pub(crate) description: Option<String>,
    pub(crate) when: Vec<Condition>,
    pub(crate) unless: Vec<Condition>,
}

impl Rule {
    /// The rule's id (its position in file order).
    pub fn id(&self) -> RuleId {
        self.id
    }
    /// The rule's unique name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What the rule does when it applies.
    pub fn effect(&self) -> Effect {
        self.effect
    }
    /// The status a forbid rule answers with (401, 403 or 404); 200 for allow rules.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// Whether the rule enforces or only reports.
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// Where the rule is written.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }
    /// The rule's description, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// How many conditions its `when` and `unless` clauses hold.
    pub fn condition_count(&self) -> (usize, usize) {
        (self.when.len(), self.unless.len())
    }
}

/// Which clause of a rule a condition is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Clause {
    /// Must hold for the rule to apply.
    When,
    /// Exempts the request from the rule when it holds.
    Unless,
}

/// The policy key a condition is written under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKey {
    /// `ip`: the client address.
    Ip,
    /// `path`: the decoded path.
    Path,
    /// `method`: the method and its overrides.
    Method,
    /// `host`: the host the request names.
    Host,
    /// `header`: one header's values.
    Header,
    /// `user_agent`: the User-Agent header.
    UserAgent,
    /// `client`: the API client a key belongs to.
    Client,
    /// `role`: the API client's roles.
    Role,
    /// `authenticated`: whether a known API key or a valid bearer token was presented.
    Authenticated,
    /// `issuer`: the bearer token's issuer.
    Issuer,
    /// `scope`: the bearer token's scopes.
    Scope,
    /// `claim`: one claim of the bearer token.
    Claim,
}

impl Clause {
    /// The clause as written in a policy: `when` or `unless`.
    pub fn as_str(self) -> &'static str {
        match self {
            Clause::When => "when",
            Clause::Unless => "unless",
        }
    }
}

impl ConditionKey {
    /// The key as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKey::Ip => "ip",
            ConditionKey::Path => "path",
            ConditionKey::Method => "method",
            ConditionKey::Host => "host",
            ConditionKey::Header => "header",
            ConditionKey::UserAgent => "user_agent",
            ConditionKey::Client => "client",
            ConditionKey::Role => "role",
            ConditionKey::Authenticated => "authenticated",
            ConditionKey::Issuer => "issuer",
            ConditionKey::Scope => "scope",
            ConditionKey::Claim => "claim",
        }
    }
}

/// A compiled condition, kept for explanations.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// The policy key it is written under.
    pub(crate) key: ConditionKey,
    pub(crate) slot: SlotRef,
    /// The alternatives as written.
    pub(crate) written: Vec<String>,
    pub(crate) data: ConditionData,
}

#[derive(Debug, Clone)]
pub(crate) enum ConditionData {
    Ip {
        atoms: Vec<AtomId>,
    },
    Method(Vec<Box<[u8]>>),
    /// Each compiled pattern with the index of the written alternative it came from.
    Value(Vec<(PatternRef, usize)>),
    /// A `client`, `role` or `authenticated` condition: the part of the identity slot that
    /// holds it.
    Ident(IdentPart),
    /// An `issuer`, `scope` or `claim` condition: its index among the claim slot's tests.
    Claim(usize),
}

/// One alternative of a value condition, as compiled into its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternRef {
    Exact(Box<[u8]>),
    Glob(usize),
    Regex(usize),
    Present,
    Absent,
}

/// A group of addresses in the IP table.
#[derive(Debug, Clone)]
pub(crate) enum Atom {
    List(ListId),
    Inline(Vec<IpNet>),
}

/// A named address list.
#[derive(Debug, Clone)]
pub(crate) struct ListInfo {
    pub(crate) name: String,
    pub(crate) len: usize,
}

/// An API client.
#[derive(Debug, Clone)]
pub(crate) struct ClientInfo {
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
}
