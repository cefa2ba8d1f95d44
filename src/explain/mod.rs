//! Explanations: which rule decided, which of its conditions held on which request value, or
//! why no rule applied. Built off the hot path; allocates freely.
//!
//! An explanation is a record of the one evaluation that decided (`build`), rendered as one
//! log line by `Display` (`render`). It never holds an API key or the value of a header that
//! carries one.

mod build;
mod render;
mod witness;

use std::net::IpAddr;

use crate::engine::claims::TokenProblem;
use crate::engine::client_ip::Derivation;
use crate::engine::keys::KeySource;
use crate::engine::verdict::{Decision, Refusal, UnknownClient};
use crate::engine::{Clause, ConditionKey};
use crate::error::Location;
use crate::vocabulary::Effect;

/// The whole story of one decision. `Display` renders it as one log line.
///
/// ```
/// use portcullis::{Policy, Request};
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [lists]
///     office = ["203.0.113.0/24"]
///     [[rules]]
///     name = "admin-from-office"
///     effect = "forbid"
///     when = { path = ["/admin/**"] }
///     unless = { ip = ["@office"] }
/// "#)?.compile()?;
///
/// let request = Request::get("/admin/users").peer("198.51.100.7".parse()?);
/// assert_eq!(
///     engine.explain(&request).to_string(),
///     r#"forbidden by rule "admin-from-office" (<policy>:6:5): path "/admin/users" matched "/admin/**"; client 198.51.100.7 is not in list "office""#,
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// Allow or forbidden.
    pub decision: Decision,
    /// The status to answer with (200 when allowed).
    pub status: u16,
    /// False when the policy is in report mode.
    pub enforced: bool,
    /// What decided.
    pub decided_by: DecidedBy,
    /// How the client address was found.
    pub client: ClientReport,
    /// What the request's API key says (never the key).
    pub credentials: CredentialReport,
    /// The request as the engine read it.
    pub request: RequestSummary,
    /// When the request was decided under another reading than the plain one: which.
    pub reading: Option<String>,
    /// Report-mode rules that applied before the decision.
    pub reported: Vec<RuleSummary>,
}

/// A rule named in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSummary {
    /// The rule's name.
    pub name: String,
    /// Its effect.
    pub effect: Effect,
    /// Where it is written.
    pub location: Option<Location>,
}

/// What decided a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DecidedBy {
    /// A rule applied.
    Rule {
        /// The rule.
        rule: RuleSummary,
        /// Its `when` conditions (all held) and its `unless` conditions (at least one did not).
        conditions: Vec<ConditionReport>,
    },
    /// No rule applied.
    Default {
        /// The policy default.
        effect: Effect,
        /// The rule that came closest, and what it missed.
        nearest: Option<NearMiss>,
    },
    /// The request was refused before any rule ran.
    Refused {
        /// Why.
        refusal: Refusal,
        /// The reason in words.
        reason: String,
    },
}

/// The rule that came closest to deciding a default decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NearMiss {
    /// The rule.
    pub rule: RuleSummary,
    /// How many of its `when` conditions held.
    pub met: usize,
    /// How many `when` conditions it has.
    pub total: usize,
    /// The `when` conditions that did not hold.
    pub missed: Vec<ConditionReport>,
    /// When every `when` condition held: the `unless` conditions that exempted the request.
    pub exempted_by: Vec<ConditionReport>,
}

/// One condition checked against the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConditionReport {
    /// `when` or `unless`.
    pub clause: Clause,
    /// The policy key of the condition.
    pub key: ConditionKey,
    /// For a `header` condition the header's name (lowercase); for a `claim` condition the
    /// claim's.
    pub name: Option<String>,
    /// The request values read: none when absent; `(redacted)` for headers that carry
    /// credentials, `(unreadable)` for values that are not text.
    pub values: Vec<String>,
    /// Whether the condition held.
    pub holds: bool,
    /// The alternative that matched, when it held.
    pub matched: Option<String>,
    /// All alternatives, as written.
    pub alternatives: Vec<String>,
    /// Why the value read is what it is, when that is the point: for `client`, `role` and
    /// `authenticated`, that no API key was presented (naming the headers read) or that the
    /// key presented matches no client.
    pub note: Option<String>,
}

/// How the client address was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientReport {
    /// The client address, when known.
    pub ip: Option<IpAddr>,
    /// The TCP peer.
    pub peer: Option<IpAddr>,
    /// Where the address came from.
    pub derivation: Option<Derivation>,
    /// Why it is unknown, when it is.
    pub unknown: Option<UnknownClient>,
    /// The forwarding header the request carried but that was ignored because the peer is
    /// not a trusted proxy (the commonest proxy misconfiguration), when that happened.
    pub ignored_header: Option<String>,
}

/// What the request's API key says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CredentialReport {
    /// No key was presented (or keys were not read).
    None,
    /// The key belongs to a client.
    Client {
        /// The client's name.
        name: String,
        /// Its roles.
        roles: Vec<String>,
        /// Where the key was found.
        source: KeySource,
    },
    /// A key was presented but matches no client: the request is unauthenticated.
    UnknownKey {
        /// Where the key was found.
        source: KeySource,
    },
    /// A bearer token verified.
    Token {
        /// The issuer's name under `[tokens.issuers]`.
        issuer: String,
        /// The client its `client_claim` names.
        client: Option<String>,
        /// Its scopes.
        scopes: Vec<String>,
        /// Its roles (the issuer's `roles_claim`).
        roles: Vec<String>,
    },
    /// A bearer token was presented but did not verify: the request is unauthenticated.
    InvalidToken {
        /// Why.
        problem: TokenProblem,
    },
}

/// The request as the engine read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestSummary {
    /// The method (upper-cased), when it could be read.
    pub method: Option<String>,
    /// The decoded path, when it could be read.
    pub path: Option<String>,
    /// The normalised host, when there is one.
    pub host: Option<String>,
}

impl Explanation {
    /// The name of the deciding rule, if a rule decided.
    pub fn rule_name(&self) -> Option<&str> {
        match &self.decided_by {
            DecidedBy::Rule { rule, .. } => Some(&rule.name),
            _ => None,
        }
    }
}
