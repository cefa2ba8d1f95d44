//! Portcullis and the engines a user would pick instead — Cedar, casbin and Rego (regorus) —
//! deciding the same generated policy for the same raw requests.
//!
//! [`load`] reads the policy [`write_policy`] wrote, compiles it with portcullis, and
//! translates it ([`spec::Spec`]) into each peer's own terms; [`gate::Gate`] decides one raw
//! request with any of them. See the README for how each peer expresses the policy.

#![forbid(unsafe_code)]

// The generator the library's own benchmarks use: the M policy and the request mix.
#[path = "../../support/mod.rs"]
mod support;

pub mod casbin_peer;
pub mod cedar_peer;
pub mod gate;
pub mod http;
pub mod rego_peer;
pub mod spec;

pub use gate::{agreement, expected_mix, extra_requests, load, Gate, Loaded, Timing};
pub use support::{key, requests, write_policy, Size, L, M, S};
