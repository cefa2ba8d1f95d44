//! The plan: the slots a decision reads, in order, each with the rules it can change.

use super::bits::Bits;
use super::layout::RuleMasks;
use super::parts::Slots;

/// Which slot a condition is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SlotRef {
    Ip,
    Method,
    Ident,
    Path,
    Host,
    Header(usize),
    /// `issuer`, `scope` and `claim` conditions.
    Claims,
}

impl SlotRef {
    /// Whether the slot reads the same for every reading of a request.
    pub(crate) fn is_per_request(self) -> bool {
        // The claim slot is left out: its view changes within one request (the scope check).
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

/// The order a decision reads the slots in: the method and path first (cheap, and they rule
/// out most rules), User-Agent and other headers last.
pub(super) fn plan(masks: &RuleMasks, e: &Slots) -> Box<[Step]> {
    let per_clause = masks.clauses.words_per_clause();
    let exists = masks.exists.words();
    // A rule is mentioned by a slot when one of its existing clause bits is not neutral there.
    let mentions = |neutrals: &[&Bits]| {
        let mut words = vec![0u64; per_clause];
        for n in neutrals {
            let claimed = |j: usize| {
                exists.get(j).copied().unwrap_or(0) & !n.words().get(j).copied().unwrap_or(0)
            };
            for (i, w) in words.iter_mut().enumerate() {
                *w |= claimed(i) | claimed(per_clause + i);
            }
        }
        Bits::from(words)
    };
    let mut plan = Vec::new();
    if let Some(m) = &e.method {
        plan.push(Step {
            slot: SlotRef::Method,
            mentions: mentions(&[&m.neutral]),
        });
    }
    if let Some(v) = &e.path {
        plan.push(Step {
            slot: SlotRef::Path,
            mentions: mentions(&[&v.neutral]),
        });
    }
    if let Some(v) = &e.host {
        plan.push(Step {
            slot: SlotRef::Host,
            mentions: mentions(&[&v.neutral]),
        });
    }
    if let Some(ip) = &e.ip {
        plan.push(Step {
            slot: SlotRef::Ip,
            mentions: mentions(&[&ip.atoms.neutral]),
        });
    }
    if let Some(i) = &e.ident {
        let neutrals: Vec<&Bits> = [
            i.clients.as_ref().map(|s| &s.neutral),
            i.roles.as_ref().map(|s| &s.neutral),
            i.authenticated.as_ref().map(|s| &s.neutral),
        ]
        .into_iter()
        .flatten()
        .collect();
        plan.push(Step {
            slot: SlotRef::Ident,
            mentions: mentions(&neutrals),
        });
    }
    if e.claims.is_some() {
        plan.push(Step {
            slot: SlotRef::Claims,
            mentions: mentions(&[&e.claims_neutral]),
        });
    }
    for (k, h) in e.headers.iter().enumerate() {
        plan.push(Step {
            slot: SlotRef::Header(k),
            mentions: mentions(&[&h.neutral]),
        });
    }
    plan.into_boxed_slice()
}
