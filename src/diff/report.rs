//! What a diff reports: the changes, by pair of outcomes, with the smallest witnesses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::replay::Outcome;
use crate::Request;

/// A witness request, as shown: keys by the client they belong to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Witness {
    /// The method.
    pub method: String,
    /// The request target.
    pub target: String,
    /// The TCP peer.
    pub peer: IpAddr,
    /// Header lines; an API key shows as `<key of client "name">`.
    pub headers: Vec<(String, String)>,
}

impl Witness {
    pub(super) fn size(&self) -> (usize, usize, bool) {
        (self.headers.len(), self.target.len(), self.method != "GET")
    }
}

impl std::fmt::Display for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} from {}", self.method, self.target, self.peer)?;
        for (n, v) in &self.headers {
            write!(f, ", {n}: {v}")?;
        }
        Ok(())
    }
}

/// Requests whose answer changes from one outcome to another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiffGroup {
    /// The outcome under the old policy.
    pub from: Outcome,
    /// The outcome under the new policy.
    pub to: Outcome,
    /// How many witness requests changed this way.
    pub count: u64,
    /// The smallest witnesses, smallest first.
    pub examples: Vec<Witness>,
}

/// What [`diff`](super::diff) found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffReport {
    /// Witness requests tried.
    pub witnesses: u64,
    /// Distinct classes of requests the policies tell apart (the product of the per-attribute
    /// classes), saturating.
    pub classes: u64,
    /// Whether every class was tried (otherwise an even sample of [`DiffOptions::budget`](super::DiffOptions::budget)),
    /// and, with `[tokens]`, every combination of the claims the token conditions read.
    pub exhaustive: bool,
    /// Witnesses whose answer (decision or status) changed.
    pub changed: u64,
    /// The changes, by pair of outcomes.
    pub changes: Vec<DiffGroup>,
}

/// The witness a request shows as: keys and tokens by their labels, never as sent.
pub(super) fn witness(r: &Request, keys: &BTreeMap<String, String>) -> Witness {
    Witness {
        method: r.method().to_owned(),
        target: String::from_utf8_lossy(r.target()).into_owned(),
        peer: r.peer_addr().unwrap_or(IpAddr::from([198, 51, 100, 77])),
        headers: r
            .headers()
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8_lossy(v).into_owned();
                (n.clone(), keys.get(&v).cloned().unwrap_or(v))
            })
            .collect(),
    }
}
