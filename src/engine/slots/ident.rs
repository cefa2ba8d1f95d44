//! The identity slot: `client`, `role` and `authenticated` conditions, over who the request
//! authenticates as (an API key's client, or a verified token's).

use super::SparseSlot;
use crate::engine::claims::Claims;
use crate::engine::ids::{ClientKey, RoleId, TableId};
use crate::engine::keys::Credentials;

/// `client`, `role` and `authenticated` conditions: three sparse slots keyed by the API
/// client, its roles, and whether there is one.
#[derive(Debug, Clone)]
pub(crate) struct IdentSlot {
    pub(crate) clients: Option<SparseSlot<ClientKey>>,
    pub(crate) roles: Option<SparseSlot<RoleId>>,
    /// Per API client: its role ids.
    pub(crate) client_roles: Vec<Box<[RoleId]>>,
    pub(crate) authenticated: Option<SparseSlot<Authentication>>,
}

/// The keys of the `authenticated` part of the identity slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Authentication {
    Authenticated = 0,
    Anonymous = 1,
}

impl Authentication {
    /// Both keys, in key order.
    pub(crate) const ALL: [Authentication; 2] =
        [Authentication::Authenticated, Authentication::Anonymous];

    pub(crate) fn of(authenticated: bool) -> Authentication {
        if authenticated {
            Authentication::Authenticated
        } else {
            Authentication::Anonymous
        }
    }
}

impl TableId for Authentication {
    fn as_usize(self) -> usize {
        self as usize
    }
}

/// The parts of an [`IdentSlot`]. A clause holds at most one condition of each kind, so a
/// part's bit for a clause is exactly whether that clause's condition of the kind holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IdentPart {
    /// `client` conditions.
    Client,
    /// `role` conditions.
    Role,
    /// `authenticated` conditions.
    Authenticated,
}

/// Who the request authenticates as: an API key's client, or a verified token's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity<'a> {
    /// The client's key in the slot, when a condition can name it.
    pub(crate) client: Option<ClientKey>,
    /// The role keys it holds; `None`: the key client's roles.
    pub(crate) roles: Option<&'a [RoleId]>,
    pub(crate) authenticated: bool,
}

impl<'a> Identity<'a> {
    /// The identity of an API key or, when there is none, of a verified token.
    pub(crate) fn of(credentials: Credentials, token: Option<&'a Claims>) -> Identity<'a> {
        match (credentials, token) {
            (
                Credentials::Presented {
                    client: Some(id), ..
                },
                _,
            ) => Identity {
                client: Some(ClientKey::of(id)),
                roles: None,
                authenticated: true,
            },
            (_, Some(c)) => Identity {
                client: c.client_key,
                roles: Some(&c.role_keys),
                authenticated: true,
            },
            _ => Identity {
                client: None,
                roles: Some(&[]),
                authenticated: false,
            },
        }
    }
}

impl IdentSlot {
    /// `acc &=` the bits of every part.
    pub(crate) fn and_into(&self, acc: &mut [u64], who: Identity<'_>, key_bits: &mut Vec<u64>) {
        for part in [IdentPart::Client, IdentPart::Role, IdentPart::Authenticated] {
            self.and_part_into(part, acc, who, key_bits);
        }
    }

    /// `acc &=` the bits of one part alone.
    #[inline]
    pub(crate) fn and_part_into(
        &self,
        part: IdentPart,
        acc: &mut [u64],
        who: Identity<'_>,
        key_bits: &mut Vec<u64>,
    ) {
        match part {
            IdentPart::Client => {
                if let Some(slot) = &self.clients {
                    slot.and_into(acc, who.client.into_iter(), key_bits);
                }
            }
            IdentPart::Role => {
                if let Some(slot) = &self.roles {
                    let roles = match who.roles {
                        Some(r) => r,
                        None => who
                            .client
                            .and_then(|c| self.client_roles.get(c.as_usize()))
                            .map_or(&[][..], |r| r),
                    };
                    slot.and_into(acc, roles.iter().copied(), key_bits);
                }
            }
            IdentPart::Authenticated => {
                if let Some(slot) = &self.authenticated {
                    let key = Authentication::of(who.authenticated);
                    slot.and_into(acc, std::iter::once(key), key_bits);
                }
            }
        }
    }
}
