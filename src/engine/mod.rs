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
pub(crate) mod client_ip;
pub(crate) mod evaluate;
pub(crate) mod forwarded;
pub(crate) mod globs;
pub(crate) mod iptable;
pub(crate) mod keys;
pub(crate) mod methods;
pub(crate) mod overrides;
pub(crate) mod path;
pub(crate) mod request;
pub(crate) mod slots;
pub(crate) mod verdict;

use std::cell::RefCell;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::Location;
use crate::policy::model::{Combine, Effect, Mode, OnUnknownClient};
use bits::{Bits, ClauseLayout};
use client_ip::{ClientIpConfig, Derivation};
use keys::{Credentials, KeyTable};
use overrides::{is_method_override_key, METHOD_OVERRIDE_HEADERS, URL_OVERRIDE_HEADERS};
use path::{PathBuffers, PathOptions};
use request::{AsRequestView, RequestView};
use slots::{IdentPart, IdentSlot, IpSlot, MethodSlot, SlotScratch, ValueSlot};
use verdict::{Cause, ClientId, Refusal, Reported, RuleId, UnknownClient, Verdict};

/// The most readings of one request's method (the method and its overrides).
const MAX_METHOD_READINGS: usize = 4;

/// The most distinct hosts one request may name (its own, and forwarding headers' claims).
const MAX_HOST_READINGS: usize = 3;

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
/// assert_eq!(engine.rule(verdict.rule().unwrap()).name(), "no-admin");
/// assert!(engine.decide(&Request::get("/home").peer(peer)).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    pub(crate) name: String,
    pub(crate) default: Effect,
    pub(crate) combine: Combine,
    pub(crate) mode: Mode,
    pub(crate) path_options: PathOptions,
    pub(crate) client_ip: ClientIpConfig,
    pub(crate) on_unknown: OnUnknownClient,
    pub(crate) rules: Vec<Rule>,
    /// Where each rule's clause bits are.
    pub(crate) layout: ClauseLayout,
    /// Clause bits that exist: every rule's `when`, and `unless` where it is not empty.
    pub(crate) exists: Bits,
    /// Per rule (one half): enforcing rules, report-mode rules, forbid rules.
    pub(crate) enforce: Bits,
    pub(crate) report: Bits,
    pub(crate) forbid: Bits,
    /// Clause bits whose holding can only make a decision stricter.
    pub(crate) forbid_favouring: Bits,
    pub(crate) ip: Option<IpSlot>,
    pub(crate) method: Option<MethodSlot>,
    pub(crate) ident: Option<IdentSlot>,
    pub(crate) path: Option<ValueSlot>,
    pub(crate) host: Option<ValueSlot>,
    pub(crate) headers: Vec<ValueSlot>,
    /// The slots in the order a decision reads them: cheap and selective first.
    pub(crate) plan: Box<[Step]>,
    pub(crate) keys: Option<KeyTable>,
    pub(crate) lists: Vec<ListInfo>,
    pub(crate) atoms: Vec<Atom>,
    pub(crate) clients: Vec<ClientInfo>,
    pub(crate) stats: Stats,
}

/// One rule of a compiled policy: its name, effect and place in the source.
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

/// Which slot a condition is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SlotRef {
    Ip,
    Method,
    Ident,
    Path,
    Host,
    Header(usize),
}

impl SlotRef {
    /// Whether the slot reads the same for every reading of a request.
    fn is_per_request(self) -> bool {
        matches!(self, SlotRef::Ip | SlotRef::Ident | SlotRef::Header(_))
    }
}

/// One slot in the order a decision reads them, with the rules it can change.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) slot: SlotRef,
    /// The rules (one half) with a condition in this slot, in either clause: the slot is read
    /// only while one of them may still apply.
    pub(crate) mentions: Bits,
}

/// A compiled condition, kept for explanations.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// The policy key (`ip`, `path`, `header`, ...).
    pub(crate) key: &'static str,
    pub(crate) slot: SlotRef,
    /// The alternatives as written.
    pub(crate) written: Vec<String>,
    pub(crate) data: ConditionData,
}

#[derive(Debug, Clone)]
pub(crate) enum ConditionData {
    Ip {
        atoms: Vec<u32>,
    },
    Method(Vec<Box<[u8]>>),
    /// Each compiled pattern with the index of the written alternative it came from.
    Value(Vec<(PatternRef, usize)>),
    /// A `client`, `role` or `authenticated` condition: the part of the identity slot that
    /// holds it.
    Ident(IdentPart),
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
    List(usize),
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
    host_tmp: String,
    query_tmp: Vec<u8>,
    tmp: Vec<u64>,
    slot: SlotScratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A request read strictly, ready for the slots.
pub(crate) struct Prepared {
    pub(crate) methods: usize,
    pub(crate) two_paths: bool,
    /// How many host readings `Scratch::hosts` holds (0: the request names no host).
    pub(crate) hosts: usize,
    pub(crate) client: Result<(IpAddr, Derivation), UnknownClient>,
    pub(crate) credentials: Credentials,
}

/// Which reading of a request decided: indexes into the method, path and host readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Reading {
    pub(crate) method: usize,
    pub(crate) kept_path: bool,
    pub(crate) host: usize,
}

impl Prepared {
    /// Every reading of the request: methods × paths × hosts, the plain one first.
    pub(crate) fn readings(&self) -> Readings {
        Readings {
            next: Some(Reading::default()),
            methods: self.methods,
            two_paths: self.two_paths,
            hosts: self.hosts.max(1),
        }
    }
}

/// The readings of a request, counted through in place: the usual request has one, and
/// walking them must cost next to nothing then.
pub(crate) struct Readings {
    next: Option<Reading>,
    methods: usize,
    two_paths: bool,
    hosts: usize,
}

impl Iterator for Readings {
    type Item = Reading;

    #[inline]
    fn next(&mut self) -> Option<Reading> {
        let current = self.next.filter(|r| r.method < self.methods)?;
        // Hosts vary fastest, then the path reading, then the method.
        let mut following = current;
        following.host += 1;
        if following.host == self.hosts {
            following.host = 0;
            if self.two_paths && !following.kept_path {
                following.kept_path = true;
            } else {
                following.kept_path = false;
                following.method += 1;
            }
        }
        self.next = Some(following);
        Some(current)
    }
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

    /// The rule with the given id.
    ///
    /// # Panics
    ///
    /// If `id` did not come from this engine.
    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.index()]
    }

    /// The rule named `name`, if any.
    pub fn rule_by_name(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The name of an API client.
    pub fn client_name(&self, id: ClientId) -> Option<&str> {
        self.clients.get(id.index()).map(|c| c.name.as_str())
    }

    /// The roles of an API client.
    pub fn client_roles(&self, id: ClientId) -> &[String] {
        self.clients.get(id.index()).map_or(&[], |c| &c.roles)
    }

    /// The named address lists and how many entries each holds, in name order.
    pub fn lists(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.lists.iter().map(|l| (l.name.as_str(), l.len))
    }

    /// The API clients' names, in name order.
    pub fn clients(&self) -> impl Iterator<Item = &str> + '_ {
        self.clients.iter().map(|c| c.name.as_str())
    }

    /// The header API keys are read from, if the policy has `[keys]`.
    pub fn key_header(&self) -> Option<&str> {
        self.keys.as_ref().map(|k| k.header.as_str())
    }

    /// The effect when no rule applies.
    pub fn default_effect(&self) -> Effect {
        self.default
    }

    /// How rules combine.
    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// Whether decisions are enforced or only reported.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The name of the policy source (a file name, or `<policy>`).
    pub fn source_name(&self) -> &str {
        &self.name
    }

    /// Sizes of the compiled policy.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub(crate) fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch) -> T) -> T {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => f(&mut scratch),
            Err(_) => f(&mut Scratch::default()),
        })
    }

    pub(crate) fn effect_of(&self, cause: Cause) -> Effect {
        match cause {
            Cause::Rule(id) => self
                .rules
                .get(id.index())
                .map_or(Effect::Forbid, |r| r.effect),
            Cause::Default => self.default,
            Cause::Refused(_) => Effect::Forbid,
        }
    }

    /// Reads the request strictly into the scratch buffers.
    pub(crate) fn prepare(
        &self,
        view: &RequestView<'_>,
        s: &mut Scratch,
    ) -> Result<Prepared, Refusal> {
        // Methods: the request's, then each distinct override, all upper-cased so that a case
        // variant cannot slip past a method condition.
        if !path::is_token(view.method) {
            return Err(Refusal::InvalidMethod);
        }
        let mut methods = 0;
        push_method(&mut s.methods, &mut methods, view.method)?;
        for name in METHOD_OVERRIDE_HEADERS {
            for value in view.header_values(name) {
                let value = request::trim_ows(value);
                if !path::is_token(value) {
                    return Err(Refusal::InvalidMethodOverride);
                }
                push_method(&mut s.methods, &mut methods, value)?;
            }
        }

        // `?_method=DELETE` is one more override (Laravel, Rails and others honour it). `;`
        // separates parameters too for some backends (CVE-2021-23336).
        if let Some(query) = path::query(view.target) {
            for pair in query.split(|&b| b == b'&' || b == b';') {
                let Some(at) = memchr::memchr(b'=', pair) else {
                    continue;
                };
                let (key, value) = (
                    pair.get(..at).unwrap_or(&[]),
                    pair.get(at + 1..).unwrap_or(&[]),
                );
                // Backends decode the query (`+` as a space) before reading `_method`: so does
                // the engine.
                path::form_decode(key, &mut s.query_tmp).ok_or(Refusal::InvalidMethodOverride)?;
                if !is_method_override_key(&s.query_tmp) {
                    continue;
                }
                path::form_decode(value, &mut s.query_tmp).ok_or(Refusal::InvalidMethodOverride)?;
                if !path::is_token(&s.query_tmp) {
                    return Err(Refusal::InvalidMethodOverride);
                }
                let value = std::mem::take(&mut s.query_tmp);
                let pushed = push_method(&mut s.methods, &mut methods, &value);
                s.query_tmp = value;
                pushed?;
            }
        }
        // Some backends route on these headers instead of the target: when rules read the
        // path, a request carrying one is ambiguous.
        if self.path.is_some() {
            for name in URL_OVERRIDE_HEADERS {
                if view.header_values(name).next().is_some() {
                    return Err(Refusal::UrlOverride);
                }
            }
        }

        let target = path::split_target(view.target, self.path_options.max_length)?;
        let two_paths = path::normalize(target.path, self.path_options, &mut s.paths)?;

        // Host: an absolute-form target's authority, else the one Host header. Two Host lines
        // are always refused; the host itself is only read when rules look at it, since
        // otherwise it cannot change the decision.
        let mut hosts = 0;
        let mut host_lines = view.header_values("host");
        let header_host = host_lines.next();
        if host_lines.next().is_some() {
            return Err(Refusal::AmbiguousHost);
        }
        if self.host.is_some() {
            let authority = view.authority.or(target.authority);
            if let Some(authority) = authority {
                self.push_host(s, &mut hosts, authority)?;
                if let Some(h) = header_host {
                    path::normalize_host(h, &mut s.host_tmp)?;
                    if hosts > 0 && s.hosts.first() != Some(&s.host_tmp) {
                        return Err(Refusal::AmbiguousHost);
                    }
                }
            } else if let Some(h) = header_host {
                self.push_host(s, &mut hosts, h)?;
            }
            // A request that names no host (HTTP/1.0 allows it), or an empty one, gets a host
            // from the framework: actix-web's `ConnectionInfo::host` is then the server's
            // configured name or its own address. The engine cannot know it, and a forbid rule
            // on that host would not hold: refuse the request as ambiguous.
            if hosts == 0 {
                return Err(Refusal::MissingHost);
            }
        }
        // Frameworks' host extractors may prefer what a forwarding header claims; when rules
        // read the host, each claim is another reading, and all must be allowed.
        if self.host.is_some() {
            for line in view.header_values("x-forwarded-host") {
                for claim in line.split(|&b| b == b',') {
                    // An empty claim is no host to the engine, but a backend that takes the
                    // header whole reads something: refuse it as unreadable.
                    if request::trim_ows(claim).is_empty() {
                        return Err(Refusal::InvalidHost);
                    }
                    self.push_host(s, &mut hosts, claim)?;
                }
            }
            for line in view.header_values("forwarded") {
                let mut claims = [&[][..]; MAX_HOST_READINGS + 1];
                let mut count = 0;
                forwarded::elements(line, |e| {
                    if let Some(host) = e.host {
                        if let Some(slot) = claims.get_mut(count) {
                            *slot = host;
                        }
                        count += 1;
                    }
                })
                .map_err(|_| Refusal::MalformedForwarded)?;
                if count > claims.len() {
                    return Err(Refusal::AmbiguousHost);
                }
                for claim in claims.iter().take(count) {
                    if claim.is_empty() {
                        return Err(Refusal::InvalidHost);
                    }
                    self.push_host(s, &mut hosts, claim)?;
                }
            }
        }

        let client = self.client_ip.derive(view);
        if let Err(unknown) = client {
            // No peer at all is a misconfigured adapter, not a client to evaluate.
            if self.on_unknown == OnUnknownClient::Forbid || unknown == UnknownClient::NoPeer {
                return Err(Refusal::UnknownClient(unknown));
            }
        }
        let credentials = match &self.keys {
            Some(keys) => keys.identify(view)?,
            None => Credentials::None,
        };
        Ok(Prepared {
            methods,
            two_paths,
            hosts,
            client,
            credentials,
        })
    }

    /// Adds a distinct, non-empty host reading.
    fn push_host(&self, s: &mut Scratch, count: &mut usize, raw: &[u8]) -> Result<(), Refusal> {
        path::normalize_host(raw, &mut s.host_tmp)?;
        if s.host_tmp.is_empty() || s.hosts.iter().take(*count).any(|h| *h == s.host_tmp) {
            return Ok(());
        }
        let slot = s.hosts.get_mut(*count).ok_or(Refusal::AmbiguousHost)?;
        slot.clone_from(&s.host_tmp);
        *count += 1;
        Ok(())
    }

    /// Picks the deciding rule from the clause bits.
    pub(crate) fn combine_bits(&self, acc: &[u64], reported: &mut Reported) -> Cause {
        let (when, unless) = self.layout.split(acc);
        let applies =
            |i: usize| when.get(i).copied().unwrap_or(0) & !unless.get(i).copied().unwrap_or(0);
        let word = |b: &Bits, i: usize| b.words().get(i).copied().unwrap_or(0);
        let mut record = |i: usize, mut bits: u64| {
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                if let Ok(id) = u32::try_from(i * 64 + bit as usize) {
                    reported.push(RuleId::new(id));
                }
            }
        };
        match self.combine {
            // Rules in file order: the first enforcing rule that applies decides; report-mode
            // rules met before it are recorded.
            Combine::FirstMatch => {
                for i in 0..self.layout.words_per_clause() {
                    let a = applies(i);
                    let deciding = a & word(&self.enforce, i);
                    let reports = a & word(&self.report, i);
                    if deciding != 0 {
                        let bit = deciding.trailing_zeros();
                        record(i, reports & ((1u64 << bit) - 1));
                        return rule_cause(i, bit);
                    }
                    record(i, reports);
                }
                Cause::Default
            }
            // Any forbid rule that applies wins (the first is named); else any allow rule;
            // every report-mode rule that applies is recorded.
            Combine::ForbidOverrides => {
                let mut allow = None;
                let mut forbid = None;
                for i in 0..self.layout.words_per_clause() {
                    let a = applies(i);
                    record(i, a & word(&self.report, i));
                    let enforcing = a & word(&self.enforce, i);
                    let f = enforcing & word(&self.forbid, i);
                    if forbid.is_none() && f != 0 {
                        forbid = Some(rule_cause(i, f.trailing_zeros()));
                    }
                    let al = enforcing & !word(&self.forbid, i);
                    if allow.is_none() && al != 0 {
                        allow = Some(rule_cause(i, al.trailing_zeros()));
                    }
                }
                forbid.or(allow).unwrap_or(Cause::Default)
            }
        }
    }
}

fn rule_cause(word: usize, bit: u32) -> Cause {
    u32::try_from(word * 64 + bit as usize).map_or(Cause::Default, |i| Cause::Rule(RuleId::new(i)))
}

fn push_method(
    methods: &mut [Vec<u8>; MAX_METHOD_READINGS],
    count: &mut usize,
    method: &[u8],
) -> Result<(), Refusal> {
    let already = methods
        .iter()
        .take(*count)
        .any(|m| m.eq_ignore_ascii_case(method));
    if already {
        return Ok(());
    }
    let slot = methods
        .get_mut(*count)
        .ok_or(Refusal::InvalidMethodOverride)?;
    slot.clear();
    slot.extend(method.iter().map(u8::to_ascii_uppercase));
    *count += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Policy, Request};

    #[test]
    fn a_request_without_a_host_is_refused_when_rules_read_the_host() {
        let reads_host = Policy::from_toml(
            "[policy]\ndefault = \"allow\"\n[[rules]]\nname = \"r\"\neffect = \"forbid\"\n\
             when = { host = [\"internal.example\"] }",
        )
        .unwrap()
        .compile()
        .unwrap();
        let no_hosts = Policy::from_toml("[policy]\ndefault = \"allow\"")
            .unwrap()
            .compile()
            .unwrap();
        let peer = "192.0.2.1".parse().unwrap();
        let refused = Cause::Refused(Refusal::MissingHost);
        // actix-web reads the server's own name for these: the engine cannot.
        let hostless = [
            Request::get("/x").peer(peer),
            Request::get("/x").peer(peer).header("Host", ""),
            Request::get("/x").peer(peer).header("Host", " \t"),
        ];
        for request in &hostless {
            assert_eq!(reads_host.decide(request).cause(), refused, "{request:?}");
            assert!(no_hosts.decide(request).is_allowed(), "{request:?}");
        }
        let named = [
            Request::get("/x").peer(peer).header("Host", "example.com"),
            Request::get("http://example.com/x").peer(peer),
        ];
        for request in &named {
            assert!(reads_host.decide(request).is_allowed(), "{request:?}");
        }
        // A forwarding header's claim does not make up for the request's own host.
        let claim_only = Request::get("/x")
            .peer(peer)
            .header("X-Forwarded-Host", "example.com");
        assert_eq!(reads_host.decide(&claim_only).cause(), refused);
    }

    #[test]
    fn readings_are_the_whole_product_plain_first() {
        for methods in 1..=MAX_METHOD_READINGS {
            for two_paths in [false, true] {
                for hosts in 0..=MAX_HOST_READINGS {
                    let p = Prepared {
                        methods,
                        two_paths,
                        hosts,
                        client: Err(UnknownClient::NoPeer),
                        credentials: Credentials::None,
                    };
                    let mut want = Vec::new();
                    for method in 0..methods {
                        for kept_path in [false, true].into_iter().filter(|&k| !k || two_paths) {
                            for host in 0..hosts.max(1) {
                                want.push(Reading {
                                    method,
                                    kept_path,
                                    host,
                                });
                            }
                        }
                    }
                    let got: Vec<Reading> = p.readings().collect();
                    assert_eq!(got, want, "{methods} {two_paths} {hosts}");
                    assert_eq!(got.first(), Some(&Reading::default()));
                }
            }
        }
    }
}
