//! The groups an engine is made of, and [`Engine::new`], the one constructor that assembles
//! them: the compiler fills the groups, and the engine derives what follows from them (the
//! order its decisions read the slots in) itself.

use super::bits::Bits;
use super::claims::ClaimSlot;
use super::client_ip::ClientIpConfig;
use super::keys::KeyTable;
use super::layout::RuleMasks;
use super::path::PathOptions;
use super::provenance::Provenance;
use super::slots::{IdentSlot, IpSlot, MethodSlot, ValueSlot};
use super::{plan, Atom, ClientInfo, Engine, ListInfo, Rule, Stats};
use crate::error::PolicyWarning;
use crate::tokens::Tokens;
use crate::vocabulary::{Combine, Effect, Mode, OnUnknownClient};

/// The named address lists, and the address conditions over them.
#[derive(Debug)]
pub(crate) struct Addresses {
    pub(crate) lists: Vec<ListInfo>,
    pub(crate) atoms: Vec<Atom>,
}

/// What a compiled policy is made of and from: its sizes, the files it read, and what it
/// compiled despite.
#[derive(Debug)]
pub(crate) struct About {
    pub(crate) stats: Stats,
    pub(crate) provenance: Provenance,
    /// List-file lines skipped under `on_invalid = "skip"`.
    pub(crate) warnings: Vec<PolicyWarning>,
}

/// The policy's settings: how it reads requests and combines rules.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) default: Effect,
    pub(crate) combine: Combine,
    pub(crate) mode: Mode,
    pub(crate) path_options: PathOptions,
    pub(crate) client_ip: ClientIpConfig,
    pub(crate) on_unknown: OnUnknownClient,
}

/// The slots of conditions, each answering over the rules' clause bits.
#[derive(Debug)]
pub(crate) struct Slots {
    pub(crate) ip: Option<IpSlot>,
    pub(crate) method: Option<MethodSlot>,
    pub(crate) ident: Option<IdentSlot>,
    pub(crate) path: Option<ValueSlot>,
    pub(crate) host: Option<ValueSlot>,
    pub(crate) headers: Vec<ValueSlot>,
    pub(crate) claims: Option<ClaimSlot>,
    /// The clause bits that the claim slot leaves as they are.
    pub(crate) claims_neutral: Bits,
}

/// Who may call: API keys and their clients, and trusted token issuers.
#[derive(Debug)]
pub(crate) struct Callers {
    pub(crate) keys: Option<KeyTable>,
    pub(crate) clients: Vec<ClientInfo>,
    pub(crate) tokens: Option<Tokens>,
}

impl Engine {
    /// Assembles an engine, and plans the order its decisions read the slots in.
    pub(crate) fn new(
        settings: Settings,
        rules: Vec<Rule>,
        masks: RuleMasks,
        slots: Slots,
        callers: Callers,
        addresses: Addresses,
        about: About,
    ) -> Engine {
        Engine {
            plan: plan::plan(&masks, &slots),
            settings,
            rules,
            masks,
            slots,
            callers,
            addresses,
            about,
        }
    }
}
