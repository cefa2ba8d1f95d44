//! What a condition read and which written alternative matched it: the witnesses an
//! explanation shows, taken from the evaluation that decided.

use super::build::Record;
use crate::engine::claims::{ClaimTest, ClaimValue};
use crate::engine::keys::{secrecy, Credentials, Secrecy};
use crate::engine::methods;
use crate::engine::request::trim_ows;
use crate::engine::slots::{IdentPart, ValueSource};
use crate::engine::{Atom, Condition, ConditionData, Engine, PatternRef, SlotRef};

impl Record<'_, '_, '_> {
    /// What a condition read and which written alternative matched it, for display only.
    pub(super) fn witness(&self, c: &Condition) -> (Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let prepared = self.0.prepared();
        match &c.data {
            ConditionData::Ip { atoms } => {
                let Ok((ip, _)) = prepared.client else {
                    return (Vec::new(), None);
                };
                let here = engine
                    .slots
                    .ip
                    .as_ref()
                    .map_or(&[][..], |slot| slot.atoms_of(ip));
                let matched = atoms
                    .iter()
                    .filter(|a| here.contains(a))
                    .find_map(|&a| match engine.addresses.atoms.get(a.as_usize()) {
                        Some(Atom::List(l)) => engine
                            .addresses
                            .lists
                            .get(l.as_usize())
                            .map(|l| format!("@{}", l.name)),
                        Some(Atom::Inline(nets)) => nets
                            .iter()
                            .find(|n| n.contains(&ip))
                            .map(ToString::to_string),
                        None => None,
                    });
                (vec![ip.to_string()], matched)
            }
            ConditionData::Method(methods) => {
                let m = String::from_utf8_lossy(self.0.method()).into_owned();
                let matched = methods.iter().any(|x| x.as_ref() == m.as_bytes()).then(|| {
                    c.written
                        .iter()
                        .find(|w| methods::covered(&w.to_ascii_uppercase()).any(|x| x == m))
                        .cloned()
                        .unwrap_or_else(|| m.clone())
                });
                (vec![m], matched)
            }
            ConditionData::Ident(part) => {
                let client = match prepared.credentials {
                    Credentials::Presented {
                        client: Some(id), ..
                    } => Some(id),
                    _ => None,
                };
                let token = prepared.token.claims().filter(|_| client.is_none());
                match part {
                    IdentPart::Client => {
                        let name = match token {
                            Some(t) => t.client.as_deref().map(str::to_owned),
                            None => client
                                .and_then(|id| engine.client_name(id))
                                .map(str::to_owned),
                        };
                        let matched = name.clone().filter(|n| c.written.contains(n));
                        (name.into_iter().collect(), matched)
                    }
                    IdentPart::Role => {
                        let held = match token {
                            Some(t) => &t.roles[..],
                            None => client.map_or(&[][..], |id| engine.client_roles(id)),
                        };
                        let matched = held.iter().find(|r| c.written.contains(r)).cloned();
                        (held.to_vec(), matched)
                    }
                    IdentPart::Authenticated => {
                        let value = (client.is_some() || token.is_some()).to_string();
                        (vec![value.clone()], Some(value))
                    }
                }
            }
            ConditionData::Value(refs) => self.value_witness(c, refs),
            ConditionData::Claim(k) => self.claim_witness(c, *k),
        }
    }

    /// What an `issuer`, `scope` or `claim` condition read from the verified token.
    fn claim_witness(&self, c: &Condition, k: usize) -> (Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let Some(claims) = self.0.prepared().token.claims() else {
            return (Vec::new(), None);
        };
        let test = engine.slots.claims.as_ref().and_then(|s| s.tests.get(k));
        match test {
            Some((_, ClaimTest::Issuer(_))) => {
                let name = engine
                    .callers
                    .tokens
                    .as_ref()
                    .and_then(|t| t.names.get(claims.issuer.as_usize()))
                    .cloned()
                    .unwrap_or_default();
                let matched = c.written.contains(&name).then(|| name.clone());
                (vec![name], matched)
            }
            Some((_, ClaimTest::Scope { .. })) => {
                let matched = c
                    .written
                    .iter()
                    .find(|w| claims.scopes.contains(w))
                    .cloned();
                (claims.scopes.clone(), matched)
            }
            Some((_, ClaimTest::Claim { claim, .. })) => {
                match claims.named.get(*claim).and_then(Option::as_ref) {
                    Some(value) => {
                        let shown = value.to_string();
                        // The explanation names the first written value the claim holds.
                        let held = |w: &String| match value {
                            ClaimValue::List(items) => items.iter().any(|i| i.to_string() == *w),
                            v => v.to_string() == *w,
                        };
                        let matched = c.written.iter().find(|w| held(w)).cloned();
                        (vec![shown], matched)
                    }
                    None => (Vec::new(), None),
                }
            }
            None => (Vec::new(), None),
        }
    }

    fn value_witness(
        &self,
        c: &Condition,
        refs: &[(PatternRef, usize)],
    ) -> (Vec<String>, Option<String>) {
        let engine = self.0.engine();
        let (slot, values, secret): (_, Vec<Vec<u8>>, bool) = match c.slot {
            SlotRef::Path => (
                engine.slots.path.as_ref(),
                vec![self.0.path().to_vec()],
                false,
            ),
            SlotRef::Host => (
                engine.slots.host.as_ref(),
                self.0
                    .host()
                    .map(|h| h.as_bytes().to_vec())
                    .into_iter()
                    .collect(),
                false,
            ),
            SlotRef::Header(i) => {
                let slot = engine.slots.headers.get(i);
                let name = match slot.map(|h| &h.source) {
                    Some(ValueSource::Header(n)) => n.as_str(),
                    _ => "",
                };
                let values = self
                    .0
                    .view()
                    .header_values(name)
                    .map(|v| trim_ows(v).to_vec())
                    .collect();
                let secret = secrecy(name, engine.key_header()) != Secrecy::None;
                (slot, values, secret)
            }
            _ => (None, Vec::new(), false),
        };
        let shown = values
            .iter()
            .map(|v| match std::str::from_utf8(v) {
                _ if secret => "(redacted)".to_owned(),
                Ok(t) if !t.chars().any(|ch| ch.is_control() && ch != '\t') => t.to_owned(),
                _ => "(unreadable)".to_owned(),
            })
            .collect();
        let mut matched = None;
        if let Some(slot) = slot {
            'values: for v in &values {
                let text = std::str::from_utf8(v).unwrap_or("");
                let (globs, regexes) = slot.matching_patterns(text);
                for (r, j) in refs {
                    let hit = match r {
                        PatternRef::Exact(e) => e.as_ref() == v.as_slice(),
                        PatternRef::Glob(g) => globs.contains(g),
                        PatternRef::Regex(x) => regexes.contains(x),
                        PatternRef::Present => true,
                        PatternRef::Absent => false,
                    };
                    if hit {
                        matched = c.written.get(*j).cloned();
                        break 'values;
                    }
                }
            }
            if values.is_empty() {
                matched = refs
                    .iter()
                    .find(|(r, _)| *r == PatternRef::Absent)
                    .map(|_| "absent".to_owned());
            }
        }
        (shown, matched)
    }
}

/// The claim name a `claim` condition reads.
pub(super) fn claim_name(engine: &Engine, k: usize) -> Option<&str> {
    let slot = engine.slots.claims.as_ref()?;
    match slot.tests.get(k)? {
        (_, ClaimTest::Claim { claim, .. }) => slot.names.get(*claim).map(String::as_str),
        _ => None,
    }
}
