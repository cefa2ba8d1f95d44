//! The compiled, immutable engine and its hot path, [`Engine::decide`].
//!
//! A decision runs in three steps: the request is read strictly once (method, target, host,
//! client address, API key), refusing anything ambiguous; each slot of conditions turns its
//! part of the request into a bit set over rule clauses and the sets are ANDed, in a fixed
//! plan that skips a slot once none of the rules it has conditions for can still apply; the
//! combining rule picks the deciding rule from the result. Nothing on this path allocates once
//! the thread's scratch buffers have grown, takes a lock, or compiles a pattern.

pub(crate) mod bits;
pub(crate) mod bytemap;
pub(crate) mod claims;
pub(crate) mod client_ip;
mod combine;
pub(crate) mod evaluate;
pub(crate) mod forwarded;
pub(crate) mod globs;
pub(crate) mod header_names;
pub(crate) mod host;
pub(crate) mod ids;
pub(crate) mod iptable;
pub(crate) mod keys;
pub(crate) mod layout;
pub(crate) mod lookalike;
pub(crate) mod methods;
pub(crate) mod overrides;
pub(crate) mod parts;
pub(crate) mod path;
pub(crate) mod plan;
pub(crate) mod prepare;
pub(crate) mod provenance;
pub(crate) mod regex;
pub(crate) mod request;
mod rule;
pub(crate) mod slots;
pub(crate) mod verdict;

use std::cell::RefCell;

use crate::vocabulary::{Combine, Effect, Mode};
use path::PathBuffers;
use prepare::{MAX_HOST_READINGS, MAX_METHOD_READINGS};
use request::AsRequestView;
use slots::SlotScratch;
use verdict::{ClientId, RuleId, Verdict};

use layout::RuleMasks;
use parts::{About, Addresses, Callers, Settings, Slots};
pub(crate) use plan::{SlotRef, Step};
pub(crate) use prepare::{Prepared, Reading};
pub use provenance::{Revision, SourceFile};
pub(crate) use rule::{Atom, ClientInfo, Condition, ConditionData, ListInfo, PatternRef};
pub use rule::{Clause, ConditionKey, Rule};

/// A compiled policy: immutable, cheap to share between threads, fast to query.
///
/// ```
/// use portcullis::{Decision, Policy, Request};
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///
///     [[rules]]
///     name = "no-admin"
///     effect = "forbid"
///     when = { path = ["/admin/**"] }
/// "#)?.compile()?;
///
/// let peer = "192.0.2.1".parse()?;
/// let verdict = engine.decide(&Request::get("/admin/users").peer(peer));
/// assert_eq!(verdict.decision(), Decision::Forbidden);
/// let rule = verdict.rule().and_then(|id| engine.rule(id));
/// assert_eq!(rule.map(|r| r.name()), Some("no-admin"));
/// assert!(engine.decide(&Request::get("/home").peer(peer)).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    /// How the policy reads requests and combines rules.
    pub(crate) settings: Settings,
    /// The rules in file order.
    pub(crate) rules: Vec<Rule>,
    /// Where each rule's clause bits are, and the rule-level masks over them.
    pub(crate) masks: RuleMasks,
    /// The slots of conditions.
    pub(crate) slots: Slots,
    /// The slots in the order a decision reads them: cheap and selective first. Derived from
    /// the slots and masks by [`Engine::new`].
    pub(crate) plan: Box<[Step]>,
    /// Who may call: API keys, their clients, token issuers.
    pub(crate) callers: Callers,
    /// Named address lists and the address conditions over them.
    pub(crate) addresses: Addresses,
    /// Sizes, the files read, and what the policy compiled despite.
    pub(crate) about: About,
}

/// Sizes of a compiled policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Rules.
    pub rules: usize,
    /// Named address lists.
    pub lists: usize,
    /// IPv4 prefixes in lists and rules.
    pub ipv4_prefixes: usize,
    /// IPv6 prefixes in lists and rules.
    pub ipv6_prefixes: usize,
    /// Path and host globs.
    pub globs: usize,
    /// API clients.
    pub clients: usize,
    /// API key digests.
    pub keys: usize,
    /// Bytes held by the address range tables.
    pub ip_table_bytes: usize,
    /// Of those, the IPv4 table's.
    pub ipv4_table_bytes: usize,
    /// Of those, the IPv6 table's.
    pub ipv6_table_bytes: usize,
}

/// Per-thread buffers, so that a decision allocates nothing once they have grown.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    acc: Vec<u64>,
    /// Per plan step, the bits of slots that do not depend on the reading, for requests with
    /// several readings; `cached` says which are filled.
    cache: Vec<u64>,
    cached: Vec<bool>,
    pub(crate) methods: [Vec<u8>; MAX_METHOD_READINGS],
    pub(crate) paths: PathBuffers,
    /// The host readings: the request's own host, then hosts that forwarding headers claim.
    pub(crate) hosts: [String; MAX_HOST_READINGS],
    /// A host being normalised, before it becomes a reading.
    host_read: String,
    /// A query key or value, form-decoded.
    query_decoded: Vec<u8>,
    /// The bits of a sparse slot's keys, gathered before they are ANDed in.
    key_bits: Vec<u64>,
    slot: SlotScratch,
    /// Tokens this thread has verified.
    pub(crate) tokens: crate::tokens::TokenCache,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Engine {
    /// Decides a request: the hot path. See the type's documentation for an example.
    pub fn decide(&self, request: &impl AsRequestView) -> Verdict {
        let view = request.view();
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.decide_in(&view, &mut scratch),
            Err(_) => self.decide_in(&view, &mut Scratch::default()),
        })
    }

    /// The rules in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with the given id: `None` if `id` came from another engine with more rules.
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id.index())
    }

    /// The rule named `name`, if any.
    pub fn rule_by_name(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The name of an API client.
    pub fn client_name(&self, id: ClientId) -> Option<&str> {
        self.callers
            .clients
            .get(id.index())
            .map(|c| c.name.as_str())
    }

    /// The roles of an API client.
    pub fn client_roles(&self, id: ClientId) -> &[String] {
        self.callers
            .clients
            .get(id.index())
            .map_or(&[], |c| &c.roles)
    }

    /// The named address lists and how many entries each holds, in name order.
    pub fn lists(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.addresses
            .lists
            .iter()
            .map(|l| (l.name.as_str(), l.len))
    }

    /// The API clients' names, in name order.
    pub fn clients(&self) -> impl Iterator<Item = &str> + '_ {
        self.callers.clients.iter().map(|c| c.name.as_str())
    }

    /// The header API keys are read from, if the policy has `[keys]`.
    pub fn key_header(&self) -> Option<&str> {
        self.callers.keys.as_ref().map(|k| k.header.as_str())
    }

    /// The effect when no rule applies.
    pub fn default_effect(&self) -> Effect {
        self.settings.default
    }

    /// How rules combine.
    pub fn combine(&self) -> Combine {
        self.settings.combine
    }

    /// Whether decisions are enforced or only reported.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// The name of the policy source (a file name, or `<policy>`).
    pub fn source_name(&self) -> &str {
        &self.settings.name
    }

    /// The revision of the policy: a short hash of its text and every file it read, logged with
    /// each reload and decision so that an answer can be traced to the exact policy that gave
    /// it.
    ///
    /// ```
    /// let a = portcullis::Policy::from_toml("[policy]\ndefault = \"allow\"")?.compile()?;
    /// let b = portcullis::Policy::from_toml("[policy]\ndefault = \"forbid\"")?.compile()?;
    /// assert_ne!(a.revision(), b.revision());
    /// assert_eq!(a.revision().to_string().len(), 12);
    /// # Ok::<(), portcullis::PolicyError>(())
    /// ```
    pub fn revision(&self) -> Revision {
        self.about.provenance.revision
    }

    /// The files the policy was compiled from: the policy file (when it was read from one),
    /// then every list file, each with the digest of what was read. Watching reloads when any
    /// of them changes.
    pub fn source_files(&self) -> &[SourceFile] {
        &self.about.provenance.files
    }

    /// Sizes of the compiled policy.
    pub fn stats(&self) -> Stats {
        self.about.stats
    }

    /// What the policy compiled despite: list-file lines skipped under
    /// `on_invalid = "skip"`, one warning per list. Empty for a policy that compiled cleanly.
    /// Compiling logs each warning too; reloads and `portcullis check` show them.
    ///
    /// ```
    /// let engine = portcullis::Policy::from_toml("[policy]\ndefault = \"allow\"\n")?.compile()?;
    /// assert!(engine.warnings().is_empty());
    /// # Ok::<(), portcullis::PolicyError>(())
    /// ```
    pub fn warnings(&self) -> &[crate::error::PolicyWarning] {
        &self.about.warnings
    }

    /// Decides a request, and hands back the claims of the valid bearer token it was decided
    /// with: the gate names a token's client and roles to the application as a key's.
    pub(crate) fn decide_with_token(
        &self,
        view: &request::RequestView<'_>,
    ) -> (Verdict, Option<std::sync::Arc<claims::Claims>>) {
        self.with_scratch(|s| {
            self.decide_keeping(view, s, |prepared| match &prepared.token {
                claims::TokenState::Valid(c) => Some(std::sync::Arc::clone(c)),
                _ => None,
            })
        })
    }

    pub(crate) fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch) -> T) -> T {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => f(&mut scratch),
            Err(_) => f(&mut Scratch::default()),
        })
    }
}
