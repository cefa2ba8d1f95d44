//! portcullis turns a declarative access policy into a fast, explainable gate for HTTP requests.
//!
//! Every request is decided [`Decision::Allow`] or [`Decision::Forbidden`], and every decision
//! can say which rule made it and why.
//!
//! # Quick start
//!
//! ```
//! use portcullis::{Policy, Request};
//!
//! let engine = Policy::from_toml(r#"
//!     [policy]
//!     default = "forbid"
//!
//!     [lists]
//!     office = ["203.0.113.0/24", "2001:db8:1::/48"]
//!
//!     [[rules]]
//!     name = "admin-from-office"
//!     effect = "forbid"
//!     when = { path = ["/admin/**"] }
//!     unless = { ip = ["@office"] }
//!
//!     [[rules]]
//!     name = "everyone-else"
//!     effect = "allow"
//!     when = { method = ["GET", "POST"] }
//! "#)?.compile()?;
//!
//! let outsider = Request::get("/admin/users").peer("198.51.100.7".parse()?);
//! let verdict = engine.decide(&outsider);
//! assert!(!verdict.is_allowed());
//! assert_eq!(verdict.status(), 403);
//! println!("{}", engine.explain(&outsider));
//! // forbidden by rule "admin-from-office" (<policy>:8:5): path "/admin/users" matched
//! // "/admin/**"; client 198.51.100.7 is not in list "office"
//!
//! let colleague = Request::get("/admin/users").peer("203.0.113.20".parse()?);
//! assert!(engine.decide(&colleague).is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it works
//!
//! The phases each live in their own module: [`policy`] (the serde model of a document and the
//! source positions), `compile` (validation; conditions sorted into slots: one address range
//! table for every CIDR of every list and rule, one glob matcher per value (a tree of segments
//! for path globs), hash maps for exact values and key digests), the engine (reading the
//! request once, strictly; ANDing one bit set per slot; picking the deciding rule) and
//! [`explain`].
//!
//! # Policy reference
//!
//! The policy language is documented in full in `docs/POLICY.md` in the repository. In short:
//! `[policy]` sets the `default` effect, how rules `combine` (`first-match` or
//! `forbid-overrides`) and the `mode` (`enforce` or `report`); `[client_ip]` says where the
//! client address comes from; `[paths]` relaxes path handling; `[lists]` names address lists;
//! `[keys]` maps SHA-256 digests of API keys to clients and roles; `[[rules]]` hold `when` and
//! `unless` conditions over `ip`, `path`, `method`, `host`, `header`, `user_agent`, `client`,
//! `role` and `authenticated`.
//!
//! # Crate features
//!
//! - `toml` (default): TOML policies.
//! - `http` (default): [`RequestView::from_http`] for [`http::Request`].
//! - `json`, `yaml`: JSON and YAML policies.
//! - `tower`: [`adapters::tower::PolicyLayer`] for any tower stack.
//! - `axum`: `tower` plus axum's `ConnectInfo` peer and [`gate::Caller`] as an extractor.
//! - `actix`: [`adapters::actix::PolicyMiddleware`] for actix-web.
//! - `watch`: [`gate::Gate::watch`], reloading when the policy or a list file it reads changes.
//! - `metrics`: per-rule decision counters and reload metrics through the `metrics` facade
//!   (`portcullis_decisions_total{rule, outcome}`, `portcullis_policy_reloads_total{result}`,
//!   `portcullis_policy_info{revision}`); install your exporter before building the gate.
//! - `serve`: [`serve::Server`], an authorization server for nginx, Caddy, Traefik and Envoy
//!   (forward-auth and ext_authz over HTTP and gRPC); `portcullis serve` with `cli`.
//! - `cli`: the `portcullis` command-line tool.
//! - `tokens`: `[tokens]` issuers: JWT bearer tokens verified against JWKS files or URLs
//!   (fetched by a background thread), with `issuer`, `scope` and `claim` conditions.
//!
//! The [`gate`] module (always built) is what adapters share: the current engine behind an
//! atomic pointer, responses, decision logs through `tracing` and per-rule counters.
//!
//! # Input safety
//!
//! - Deciding never panics and never fails: every request gets a verdict. A request that
//!   components could read differently (dot segments, `//`, encoded separators, `;`, control
//!   characters, bad escapes, two hosts, two API keys, an unparseable forwarded address) is
//!   forbidden with the reason before any rule runs.
//! - Deciding costs time proportional to the request (its target, its headers), the number of
//!   condition slots, and one machine word per 64 rules — not the number of addresses or
//!   patterns. Path globs are one tree of segments that a path walks once: its cost is the
//!   path's segments times the tree nodes its prefix reaches (at most eight segment globs are
//!   tried per node; more go to the regex automaton). Other globs of literal text and `*` are
//!   matched piece by piece, at most sixteen per slot; richer globs and regexes run in one
//!   automaton per slot. Deciding takes no lock of its own (the automata keep caches in a pool
//!   that is lock-free for the thread that made them) and, once a thread's scratch buffers
//!   have grown, allocates nothing.
//! - Compiled memory grows with the policy's text: address ranges, patterns and per-key rule
//!   lists are stored sparsely; only a handful of bit sets per slot span all rules (one per
//!   method, and one per distinct address set while those take no more room than the range
//!   table).
//! - Policies are bounded: documents up to [`MAX_POLICY_BYTES`], patterns up to
//!   [`MAX_PATTERN_LEN`] bytes, regexes anchored and limited to [`MAX_REGEX_BYTES`] of
//!   compiled size, list files up to [`MAX_LIST_FILE_BYTES`] and [`MAX_LIST_ENTRIES`] entries.
//! - API keys are hashed with SHA-256 on arrival, looked up by digest and never stored, logged
//!   or shown; explanations, logs and `Debug` output redact headers that carry credentials.
//!
//! # Testing policies
//!
//! [`testing`] runs test cases written beside a policy and offers [`assert_allows!`] and
//! [`assert_forbids!`], whose failure message is the whole explanation; [`lint`] finds rules
//! that can never decide and other mistakes; [`replay`] streams an access log through a
//! policy. The `cli` feature puts them on the command line: `portcullis check | explain | test
//! | lint | replay | diff | hash-key | completions | man`.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapters;
mod compile;
pub mod diff;
mod engine;
mod error;
pub mod explain;
pub mod gate;
pub mod lint;
pub mod policy;
pub mod replay;
#[cfg(feature = "serve")]
pub mod serve;
pub mod testing;
mod tokens;
mod vocabulary;

#[cfg(all(doctest, feature = "axum", feature = "watch"))]
#[doc = include_str!("../README.md")]
struct ReadmeQuickStart;

pub use compile::lists::{
    MAX_LIST_ENTRIES, MAX_LIST_FILE_BYTES, MAX_REPORTED_LINES, MAX_WARNED_LINES,
};
pub use compile::patterns::MAX_PATTERN_LEN;
pub use compile::MAX_RULES;
pub use engine::claims::{TokenFault, TokenProblem};
pub use engine::client_ip::Derivation;
pub use engine::keys::{hash_key, KeySource};
pub use engine::regex::MAX_REGEX_BYTES;
pub use engine::request::{AsRequestView, Request, RequestView};
pub use engine::verdict::{
    Cause, Challenge, ClientId, Decision, Refusal, Reported, RuleId, UnknownClient, Verdict,
};
pub use engine::{Clause, ConditionKey, Engine, Revision, Rule, SourceFile, Stats};
pub use error::{ErrorKind, Location, PolicyError, PolicyWarning, SkippedLine};
pub use explain::Explanation;
pub use policy::{Format, Policy, MAX_POLICY_BYTES};
pub use vocabulary::{Combine, Effect, Mode};
