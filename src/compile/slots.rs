//! Builders for the engine's slots: they collect compiled conditions as (clause bit, pattern)
//! pairs and turn them into the lookup structures of [`crate::engine::slots`].

mod ident;

use std::collections::HashMap;

use crate::compile::ip::{self, SetInterner};
use crate::compile::{patterns, too_many};
use crate::engine::bits::Bits;
use crate::engine::bytemap::ByteMap;
use crate::engine::globs::{Glob, GlobMatcher, GlobMode};
use crate::engine::ids::{AtomId, ClauseBit, ListId, MethodId};
use crate::engine::slots::{IpSlot, MethodSlot, SparseSlot, ValueSlot, ValueSource};
use crate::engine::{Atom, PatternRef};
use crate::PolicyError;
pub(crate) use ident::{IdentBuilder, IdentBuilt, IdentCondition};

/// Marks the clause bits that have a condition in a slot.
#[derive(Debug, Default)]
pub(crate) struct Claimed(Vec<ClauseBit>);

impl Claimed {
    fn claim(&mut self, bit: ClauseBit) {
        self.0.push(bit);
    }

    /// Existing clause bits with no condition in this slot.
    fn neutral(&self, exists: &Bits) -> Bits {
        let mut n = exists.clone();
        for &b in &self.0 {
            n.clear(b);
        }
        n
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The memory always allowed for whole bit sets per address set.
const DENSE_FLOOR_BYTES: usize = 64 * 1024;

/// Address conditions.
#[derive(Debug, Default)]
pub(crate) struct IpBuilder {
    claimed: Claimed,
    pub(crate) atoms: Vec<Atom>,
    atom_bits: Vec<Vec<ClauseBit>>,
    list_atoms: HashMap<ListId, AtomId>,
}

impl IpBuilder {
    /// The atom of list `list`, made on first use.
    pub(crate) fn list_atom(&mut self, list: ListId) -> Result<AtomId, PolicyError> {
        if let Some(&a) = self.list_atoms.get(&list) {
            return Ok(a);
        }
        let a = self.push_atom(Atom::List(list))?;
        self.list_atoms.insert(list, a);
        Ok(a)
    }

    pub(crate) fn push_atom(&mut self, atom: Atom) -> Result<AtomId, PolicyError> {
        let a = AtomId::new(self.atoms.len()).ok_or_else(|| too_many("address conditions"))?;
        self.atoms.push(atom);
        self.atom_bits.push(Vec::new());
        Ok(a)
    }

    pub(crate) fn add(&mut self, bit: ClauseBit, atoms: &[AtomId]) {
        self.claimed.claim(bit);
        for &a in atoms {
            if let Some(bits) = self.atom_bits.get_mut(a.as_usize()) {
                bits.push(bit);
            }
        }
    }

    pub(crate) fn build(
        self,
        exists: &Bits,
        forbid_favouring: &Bits,
        list_nets: &[Vec<ipnet::IpNet>],
    ) -> Result<(Option<IpSlot>, Vec<Atom>), PolicyError> {
        if self.claimed.is_empty() {
            return Ok((None, self.atoms));
        }
        let neutral = self.claimed.neutral(exists);
        let mut nets = Vec::new();
        // INVARIANT: `push_atom` made an id for every atom.
        let ids = (0..).map_while(AtomId::new);
        for (a, atom) in ids.zip(&self.atoms) {
            match atom {
                Atom::List(l) => nets.extend(
                    list_nets
                        .get(l.as_usize())
                        .into_iter()
                        .flatten()
                        .map(|&n| (a, n)),
                ),
                Atom::Inline(inline) => nets.extend(inline.iter().map(|&n| (a, n))),
            }
        }
        let mut interner = SetInterner::new();
        let table = ip::build(&nets, &mut interner).ok_or_else(|| too_many("address ranges"))?;
        drop(nets);
        let mut unknown = neutral.clone();
        for &bit in &self.claimed.0 {
            if forbid_favouring.get(bit) {
                unknown.set(bit);
            }
        }
        let set_atoms: Vec<Box<[AtomId]>> = interner
            .sets
            .into_iter()
            .map(Vec::into_boxed_slice)
            .collect();
        let atoms = SparseSlot::new(
            neutral,
            self.atom_bits
                .into_iter()
                .map(Vec::into_boxed_slice)
                .collect(),
        );
        // A whole bit set per address set makes a lookup one AND; it is kept when it costs no
        // more than the range table itself (and at least a few kilobytes are allowed).
        let dense_bytes = set_atoms.len() * exists.words().len() * 8;
        let set_bits = (dense_bytes <= table.heap_bytes().max(DENSE_FLOOR_BYTES)).then(|| {
            set_atoms
                .iter()
                .map(|atoms_of_set| {
                    atoms.neutral.with(
                        atoms_of_set
                            .iter()
                            .flat_map(|&a| atoms.bits_of(a).iter().copied()),
                    )
                })
                .collect()
        });
        let slot = IpSlot {
            table,
            set_atoms,
            atoms,
            set_bits,
            unknown,
        };
        Ok((Some(slot), self.atoms))
    }
}

/// Method conditions.
#[derive(Debug, Default)]
pub(crate) struct MethodBuilder {
    claimed: Claimed,
    methods: Vec<(Box<[u8]>, Vec<ClauseBit>)>,
}

impl MethodBuilder {
    pub(crate) fn add(&mut self, bit: ClauseBit, methods: &[Box<[u8]>]) {
        self.claimed.claim(bit);
        for m in methods {
            match self.methods.iter_mut().find(|(k, _)| k == m) {
                Some((_, bits)) => bits.push(bit),
                None => self.methods.push((m.clone(), vec![bit])),
            }
        }
    }

    pub(crate) fn build(self, exists: &Bits) -> Result<Option<MethodSlot>, PolicyError> {
        if self.claimed.is_empty() {
            return Ok(None);
        }
        let neutral = self.claimed.neutral(exists);
        let mut ids = Vec::with_capacity(self.methods.len());
        let mut dense = Vec::with_capacity(self.methods.len());
        for (m, bits) in self.methods {
            let id = MethodId::new(dense.len()).ok_or_else(|| too_many("methods"))?;
            ids.push((m, id));
            dense.push(neutral.with(bits));
        }
        Ok(Some(MethodSlot {
            ids: ByteMap::new(ids),
            bits: dense,
            neutral,
        }))
    }
}

/// Conditions on one string value.
#[derive(Debug)]
pub(crate) struct ValueBuilder {
    source: ValueSource,
    split_lists: bool,
    glob_mode: GlobMode,
    claimed: Claimed,
    exact: HashMap<Box<[u8]>, Vec<ClauseBit>>,
    globs: Vec<Glob>,
    glob_bits: Vec<Vec<ClauseBit>>,
    glob_index: HashMap<Glob, usize>,
    regexes: Vec<String>,
    regex_bits: Vec<Vec<ClauseBit>>,
    regex_index: HashMap<String, usize>,
    present: Vec<ClauseBit>,
    absent: Vec<ClauseBit>,
}

impl ValueBuilder {
    /// A builder for the conditions on one value; `glob_mode` says how its globs read it.
    pub(crate) fn new(source: ValueSource, split_lists: bool, glob_mode: GlobMode) -> Self {
        ValueBuilder {
            source,
            split_lists,
            glob_mode,
            claimed: Claimed::default(),
            exact: HashMap::new(),
            globs: Vec::new(),
            glob_bits: Vec::new(),
            glob_index: HashMap::new(),
            regexes: Vec::new(),
            regex_bits: Vec::new(),
            regex_index: HashMap::new(),
            present: Vec::new(),
            absent: Vec::new(),
        }
    }

    pub(crate) fn claim(&mut self, bit: ClauseBit) {
        self.claimed.claim(bit);
    }

    pub(crate) fn glob_count(&self) -> usize {
        self.globs.len()
    }

    /// Adds a pattern for a clause that has already been claimed.
    pub(crate) fn add(&mut self, bit: ClauseBit, pattern: Pattern) -> Vec<PatternRef> {
        match pattern {
            Pattern::Exact(v) => {
                self.exact.entry(v.clone()).or_default().push(bit);
                vec![PatternRef::Exact(v)]
            }
            Pattern::Globs(globs) => globs
                .into_iter()
                .map(|g| {
                    let i = match self.glob_index.get(&g) {
                        Some(&i) => i,
                        None => {
                            self.glob_index.insert(g.clone(), self.globs.len());
                            self.globs.push(g);
                            self.glob_bits.push(Vec::new());
                            self.globs.len() - 1
                        }
                    };
                    if let Some(bits) = self.glob_bits.get_mut(i) {
                        bits.push(bit);
                    }
                    PatternRef::Glob(i)
                })
                .collect(),
            Pattern::Regex(text) => {
                let i = match self.regex_index.get(&text) {
                    Some(&i) => i,
                    None => {
                        self.regex_index.insert(text.clone(), self.regexes.len());
                        self.regexes.push(text);
                        self.regex_bits.push(Vec::new());
                        self.regexes.len() - 1
                    }
                };
                if let Some(bits) = self.regex_bits.get_mut(i) {
                    bits.push(bit);
                }
                vec![PatternRef::Regex(i)]
            }
            Pattern::Present => {
                self.present.push(bit);
                vec![PatternRef::Present]
            }
            Pattern::Absent => {
                self.absent.push(bit);
                vec![PatternRef::Absent]
            }
        }
    }

    pub(crate) fn build(
        self,
        exists: &Bits,
        forbid_favouring: &Bits,
    ) -> Result<Option<ValueSlot>, String> {
        if self.claimed.is_empty() {
            return Ok(None);
        }
        let neutral = self.claimed.neutral(exists);
        let mut poisoned = Bits::zeros(exists.words().len());
        for &bit in &self.claimed.0 {
            if forbid_favouring.get(bit) {
                poisoned.set(bit);
            }
        }
        let globs = GlobMatcher::build(&self.globs, self.glob_mode)?;
        let regexes = if self.regexes.is_empty() {
            None
        } else {
            Some(patterns::regex_set(&self.regexes)?)
        };
        Ok(Some(ValueSlot {
            source: self.source,
            split_lists: self.split_lists,
            neutral,
            poisoned,
            exact: ByteMap::new(self.exact),
            globs,
            glob_bits: self.glob_bits,
            regexes,
            regex_bits: self.regex_bits,
            present: self.present,
            absent: self.absent,
        }))
    }
}

/// One compiled alternative of a value condition.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Exact(Box<[u8]>),
    Globs(Vec<Glob>),
    Regex(String),
    Present,
    Absent,
}

/// `issuer`, `scope` and `claim` conditions.
#[derive(Debug, Default)]
pub(crate) struct ClaimBuilder {
    pub(crate) tests: Vec<(ClauseBit, crate::engine::claims::ClaimTest)>,
    /// The claim names conditions read, in first-use order.
    pub(crate) names: Vec<String>,
}

impl ClaimBuilder {
    /// Adds a test; its index is the condition's.
    pub(crate) fn add(&mut self, bit: ClauseBit, test: crate::engine::claims::ClaimTest) -> usize {
        self.tests.push((bit, test));
        self.tests.len() - 1
    }

    /// The index of a claim name in `Claims::named`.
    pub(crate) fn claim(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        }
    }

    /// The slot, and the clause bits it leaves neutral.
    pub(crate) fn build(
        self,
        exists: &Bits,
    ) -> (Option<crate::engine::claims::ClaimSlot>, Bits, Vec<String>) {
        let mut claimed = Claimed::default();
        for (bit, _) in &self.tests {
            claimed.claim(*bit);
        }
        let neutral = claimed.neutral(exists);
        let names = self.names.clone();
        let slot = (!self.tests.is_empty()).then_some(crate::engine::claims::ClaimSlot {
            tests: self.tests,
            names: self.names,
        });
        (slot, neutral, names)
    }
}
