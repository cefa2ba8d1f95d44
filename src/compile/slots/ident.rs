//! The identity slot's builder: `client`, `role` and `authenticated` conditions.

use std::collections::HashMap;

use super::Claimed;
use crate::compile::too_many;
use crate::engine::bits::Bits;
use crate::engine::ids::{ClauseBit, ClientKey, RoleId, TableId};
use crate::engine::slots::{Authentication, IdentSlot, SparseSlot};
use crate::engine::ClientInfo;
use crate::PolicyError;

/// What a clause asks of the API client.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdentCondition {
    pub(crate) clients: Option<Vec<ClientKey>>,
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) authenticated: Option<bool>,
}

impl IdentCondition {
    pub(crate) fn is_empty(&self) -> bool {
        self.clients.is_none() && self.roles.is_none() && self.authenticated.is_none()
    }
}

/// Client, role and authentication conditions.
#[derive(Debug, Default)]
pub(crate) struct IdentBuilder {
    conditions: Vec<(ClauseBit, IdentCondition)>,
    /// Client names that only tokens carry (no API key client has them), in first-use order:
    /// their keys follow the API clients'.
    pub(crate) token_clients: Vec<String>,
}

/// The identity slot and, for the token verifier, the keys of the client and role names
/// that conditions can match.
#[cfg_attr(not(feature = "tokens"), allow(dead_code))]
pub(crate) struct IdentBuilt {
    pub(crate) slot: Option<IdentSlot>,
    pub(crate) client_keys: HashMap<String, ClientKey>,
    pub(crate) role_keys: HashMap<String, RoleId>,
}

impl IdentBuilder {
    pub(crate) fn add(&mut self, bit: ClauseBit, condition: IdentCondition) {
        self.conditions.push((bit, condition));
    }

    pub(crate) fn build(
        self,
        exists: &Bits,
        clients: &[ClientInfo],
    ) -> Result<IdentBuilt, PolicyError> {
        let mut client_keys: HashMap<String, ClientKey> = HashMap::new();
        for (i, name) in clients
            .iter()
            .map(|c| &c.name)
            .chain(&self.token_clients)
            .enumerate()
        {
            let id = ClientKey::new(i).ok_or_else(|| too_many("clients"))?;
            client_keys.insert(name.clone(), id);
        }
        if self.conditions.is_empty() {
            return Ok(IdentBuilt {
                slot: None,
                client_keys,
                role_keys: HashMap::new(),
            });
        }
        // Role ids, in the order clients name them, then roles only tokens carry.
        let mut role_ids: HashMap<&str, RoleId> = HashMap::new();
        let mut client_roles = Vec::with_capacity(clients.len());
        for c in clients {
            let mut ids = Vec::with_capacity(c.roles.len());
            for r in &c.roles {
                let next = RoleId::new(role_ids.len()).ok_or_else(|| too_many("roles"))?;
                ids.push(*role_ids.entry(r.as_str()).or_insert(next));
            }
            client_roles.push(ids.into_boxed_slice());
        }
        for (_, c) in &self.conditions {
            for r in c.roles.iter().flatten() {
                let next = RoleId::new(role_ids.len()).ok_or_else(|| too_many("roles"))?;
                role_ids.entry(r.as_str()).or_insert(next);
            }
        }
        let role_keys = role_ids
            .iter()
            .map(|(r, &id)| ((*r).to_owned(), id))
            .collect();
        let conditions = &self.conditions;
        let slot = Some(IdentSlot {
            clients: sparse(conditions, exists, client_keys.len(), |c| c.clients.clone()),
            roles: sparse(conditions, exists, role_ids.len(), |c| {
                c.roles.as_ref().map(|rs| {
                    rs.iter()
                        .filter_map(|r| role_ids.get(r.as_str()).copied())
                        .collect()
                })
            }),
            client_roles,
            authenticated: sparse(conditions, exists, Authentication::ALL.len(), |c| {
                c.authenticated.map(|a| vec![Authentication::of(a)])
            }),
        });
        Ok(IdentBuilt {
            slot,
            client_keys,
            role_keys,
        })
    }
}

/// One part of the identity slot: per key `K`, the clause bits whose condition `pick` says
/// the key satisfies. `None` when no clause has a condition of the part.
fn sparse<K: TableId>(
    conditions: &[(ClauseBit, IdentCondition)],
    exists: &Bits,
    keys: usize,
    pick: impl Fn(&IdentCondition) -> Option<Vec<K>>,
) -> Option<SparseSlot<K>> {
    let mut claimed = Claimed::default();
    let mut bits = vec![Vec::new(); keys];
    for (bit, c) in conditions {
        if let Some(ks) = pick(c) {
            claimed.claim(*bit);
            for k in ks {
                if let Some(b) = bits.get_mut(k.as_usize()) {
                    b.push(*bit);
                }
            }
        }
    }
    (!claimed.is_empty()).then(|| {
        SparseSlot::new(
            claimed.neutral(exists),
            bits.into_iter().map(Vec::into_boxed_slice).collect(),
        )
    })
}
