//! What the compiler hands the engine, and [`Engine::new`], the one constructor that
//! assembles it: the compiler knows these groups, not the engine's layout, and the engine
//! derives what follows from them (the plan) itself.

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

/// Everything a compiled policy is made of.
pub(crate) struct Parts {
    pub(crate) settings: Settings,
    /// The rules in file order.
    pub(crate) rules: Vec<Rule>,
    pub(crate) masks: RuleMasks,
    pub(crate) slots: Slots,
    pub(crate) callers: Callers,
    /// Named address lists, and the address conditions over them.
    pub(crate) lists: Vec<ListInfo>,
    pub(crate) atoms: Vec<Atom>,
    pub(crate) stats: Stats,
    pub(crate) provenance: Provenance,
    /// What the policy compiled despite.
    pub(crate) warnings: Vec<PolicyWarning>,
}

/// The policy's settings: how it reads requests and combines rules.
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
pub(crate) struct Callers {
    pub(crate) keys: Option<KeyTable>,
    pub(crate) clients: Vec<ClientInfo>,
    pub(crate) tokens: Option<Tokens>,
}

impl Engine {
    /// Assembles an engine, and plans the order its decisions read the slots in.
    pub(crate) fn new(parts: Parts) -> Engine {
        let Parts {
            settings,
            rules,
            masks,
            slots,
            callers,
            lists,
            atoms,
            stats,
            provenance,
            warnings,
        } = parts;
        let mut engine = Engine {
            name: settings.name,
            default: settings.default,
            combine: settings.combine,
            mode: settings.mode,
            path_options: settings.path_options,
            client_ip: settings.client_ip,
            on_unknown: settings.on_unknown,
            rules,
            layout: masks.clauses,
            exists: masks.exists,
            enforce: masks.enforce,
            report: masks.report,
            forbid: masks.forbid,
            forbid_favouring: masks.forbid_favouring,
            ip: slots.ip,
            method: slots.method,
            ident: slots.ident,
            path: slots.path,
            host: slots.host,
            headers: slots.headers,
            claims: slots.claims,
            tokens: callers.tokens,
            plan: Box::default(),
            keys: callers.keys,
            lists,
            atoms,
            clients: callers.clients,
            stats,
            provenance,
            warnings,
        };
        engine.plan = plan::plan(&engine, &slots.claims_neutral);
        engine
    }
}
