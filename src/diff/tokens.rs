//! Token witnesses: claim sets read off both policies' issuers and their `issuer`, `scope`,
//! `claim`, `client` and `role` conditions, signed with the test harness's key (both engines
//! of a diff are compiled to trust it, see [`crate::testing::compile`]).
//!
//! A token is one value of the `authorization` header, so its claims are combined here: each
//! issuer's `iss` with each audience, every set of the scopes named (or, past
//! [`MAX_SET`] names, none, each one, each condition's set and each such set short of one),
//! the same for roles, each client name, and for each claim every value named with globs'
//! instances and near misses, alone and together in an array. One expired token stands for
//! the tokens that do not verify, and no token for none.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json};

use super::candidates::glob_witnesses;
use super::{Dim, Value};
use crate::policy::model::{ClaimMatcherDef, Conditions, ScopeDef};
use crate::Policy;

/// The most tokens signed; past it, the combinations are sampled evenly.
const MAX_TOKENS: u128 = 2048;

/// Sets of at most this many names are tried in every combination.
const MAX_SET: usize = 5;

const OTHER: &str = "portcullis-diff-other";

/// The names and values the token conditions and issuers of both policies read.
#[derive(Default)]
struct Read {
    /// `(iss, aud)` of each issuer, for each of its audiences.
    issuers: BTreeSet<(String, String)>,
    scopes: BTreeSet<String>,
    scope_sets: BTreeSet<BTreeSet<String>>,
    roles_claims: BTreeSet<String>,
    roles: BTreeSet<String>,
    role_sets: BTreeSet<BTreeSet<String>>,
    client_claims: BTreeSet<String>,
    clients: BTreeSet<String>,
    claims: BTreeMap<String, BTreeSet<Atom>>,
}

/// One claim value, ordered so that sets of them are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Text(String),
    Bool(bool),
    /// A number, by its JSON text.
    Number(String),
}

impl Atom {
    fn json(&self) -> Json {
        match self {
            Atom::Text(t) => Json::from(t.clone()),
            Atom::Bool(b) => Json::from(*b),
            Atom::Number(n) => serde_json::from_str(n).unwrap_or(Json::Null),
        }
    }
}

impl Read {
    fn conditions(&mut self, c: &Conditions) {
        match &c.scope {
            Some(ScopeDef::All(v)) => {
                self.scopes.extend(v.0.iter().cloned());
                self.scope_sets.insert(v.0.iter().cloned().collect());
            }
            Some(ScopeDef::Any { any }) => self.scopes.extend(any.iter().cloned()),
            None => {}
        }
        if let Some(roles) = &c.role {
            self.roles.extend(roles.0.iter().cloned());
            self.role_sets.insert(roles.0.iter().cloned().collect());
        }
        self.clients
            .extend(c.client.iter().flat_map(|v| v.0.iter().cloned()));
        for (name, matchers) in c.claim.iter().flatten() {
            let atoms = self.claims.entry(name.clone()).or_default();
            for m in &matchers.0 {
                match m {
                    ClaimMatcherDef::Text(t) => {
                        atoms.insert(Atom::Text(t.clone()));
                    }
                    ClaimMatcherDef::Bool(b) => {
                        atoms.insert(Atom::Bool(*b));
                        atoms.insert(Atom::Bool(!*b));
                    }
                    ClaimMatcherDef::Number(n) => {
                        if let Some(n) = serde_json::Number::from_f64(*n) {
                            atoms.insert(Atom::Number(n.to_string()));
                            // The number written as text matches no number condition.
                            atoms.insert(Atom::Text(n.to_string()));
                        }
                    }
                    ClaimMatcherDef::Glob(g) => {
                        let mut instances = BTreeSet::new();
                        glob_witnesses(g, &mut instances);
                        atoms.extend(instances.into_iter().map(Atom::Text));
                    }
                }
            }
            atoms.insert(Atom::Text(OTHER.to_owned()));
        }
    }
}

/// Every subset of `names` when they are few; otherwise none, each name, each set written
/// and each short of one, and all.
fn sets(names: &BTreeSet<String>, written: &BTreeSet<BTreeSet<String>>) -> Vec<Vec<String>> {
    let names: Vec<&String> = names.iter().collect();
    if names.len() <= MAX_SET {
        let all = (0..1u32 << names.len())
            .map(|mask| {
                (0..names.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| names[i].clone())
                    .collect()
            })
            .collect();
        return all;
    }
    let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
    out.insert(Vec::new());
    out.insert(names.iter().map(|n| (*n).clone()).collect());
    out.extend(names.iter().map(|n| vec![(*n).clone()]));
    for set in written {
        out.insert(set.iter().cloned().collect());
        for left_out in set {
            out.insert(set.iter().filter(|s| *s != left_out).cloned().collect());
        }
    }
    out.into_iter().collect()
}

/// One way to fill some claims of a token.
type Choice = Vec<(String, Json)>;

/// The choices for one claim holding a set of atoms: absent, each alone, and (when few) each
/// combination as an array, which matches wherever one of its elements does.
fn claim_choices(name: &str, atoms: &BTreeSet<Atom>) -> Vec<Choice> {
    let atoms: BTreeSet<String> = atoms
        .iter()
        .filter_map(|a| serde_json::to_string(&a.json()).ok())
        .collect();
    sets(&atoms, &BTreeSet::new())
        .into_iter()
        .map(|set| {
            let values: Vec<Json> = set
                .iter()
                .filter_map(|s| serde_json::from_str(s).ok())
                .collect();
            match values.as_slice() {
                [] => Vec::new(),
                [one] => vec![(name.to_owned(), one.clone())],
                _ => vec![(name.to_owned(), Json::Array(values))],
            }
        })
        .collect()
}

/// Adds the token witnesses of `policies` to the `authorization` header's candidates, with a
/// readable label for each. Returns whether they hold every combination of the candidate
/// values (false: a sample, past [`MAX_TOKENS`]).
pub(super) fn add(
    policies: &[Policy; 2],
    out: &mut BTreeMap<Dim, Vec<Value>>,
    labels: &mut BTreeMap<String, String>,
) -> bool {
    let mut read = Read::default();
    for p in policies {
        let Some(tokens) = &p.doc.tokens else {
            continue;
        };
        for def in tokens.issuers.values() {
            for aud in &def.audiences {
                read.issuers.insert((def.issuer.clone(), aud.clone()));
            }
            read.roles_claims.extend(def.roles_claim.iter().cloned());
            read.client_claims.extend(def.client_claim.iter().cloned());
        }
        for r in &p.doc.rules {
            for c in std::iter::once(&r.when).chain(r.unless.as_ref()) {
                read.conditions(c);
            }
        }
    }
    if read.issuers.is_empty() {
        return true;
    }
    let mut axes: Vec<Vec<Choice>> = Vec::new();
    axes.push(
        read.issuers
            .iter()
            .map(|(iss, aud)| {
                vec![
                    ("iss".to_owned(), Json::from(iss.clone())),
                    ("aud".to_owned(), Json::from(aud.clone())),
                ]
            })
            .collect(),
    );
    axes.push(
        sets(&read.scopes, &read.scope_sets)
            .into_iter()
            .map(|s| match s.is_empty() {
                true => Vec::new(),
                false => vec![("scope".to_owned(), Json::from(s.join(" ")))],
            })
            .collect(),
    );
    if !read.roles_claims.is_empty() {
        axes.push(
            sets(&read.roles, &read.role_sets)
                .into_iter()
                .map(|s| {
                    let roles = Json::from(s);
                    read.roles_claims
                        .iter()
                        .map(|c| (c.clone(), roles.clone()))
                        .collect()
                })
                .collect(),
        );
    }
    if !read.client_claims.is_empty() {
        let mut names: Vec<Option<String>> = vec![None, Some(OTHER.to_owned())];
        names.extend(read.clients.iter().cloned().map(Some));
        axes.push(
            names
                .into_iter()
                .map(|n| match n {
                    None => Vec::new(),
                    Some(n) => read
                        .client_claims
                        .iter()
                        .map(|c| (c.clone(), Json::from(n.clone())))
                        .collect(),
                })
                .collect(),
        );
    }
    for (name, atoms) in &read.claims {
        axes.push(claim_choices(name, atoms));
    }
    let total = axes
        .iter()
        .fold(1u128, |t, a| t.saturating_mul(a.len().max(1) as u128));
    let tries = total.min(MAX_TOKENS);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut values = Vec::new();
    for n in 0..tries {
        // Mixed-radix digits of the combination; a sample strides evenly through them.
        let mut index = n * total / tries;
        let mut claims = Map::new();
        for axis in &axes {
            let len = axis.len().max(1) as u128;
            if let Some(choice) = axis.get((index % len) as usize) {
                claims.extend(choice.iter().cloned());
            }
            index /= len;
        }
        values.extend(sign(claims, now + 3600, "token", labels));
    }
    // A token that does not verify: the first issuer's, expired a day ago.
    if let Some((iss, aud)) = read.issuers.first() {
        let mut claims = Map::new();
        claims.insert("iss".into(), Json::from(iss.clone()));
        claims.insert("aud".into(), Json::from(aud.clone()));
        values.extend(sign(
            claims,
            now.saturating_sub(86_400),
            "expired token",
            labels,
        ));
    }
    let name = "authorization".to_owned();
    let slot = out
        .entry(Dim::Header(name.clone()))
        .or_insert_with(|| vec![Value::Header(name, Vec::new())]);
    slot.extend(values);
    tries == total
}

/// Signs `claims` with `exp`, labels the token with the claims, and makes it a value.
fn sign(
    claims: Map<String, Json>,
    exp: u64,
    what: &str,
    labels: &mut BTreeMap<String, String>,
) -> Option<Value> {
    let shown = Json::Object(claims.clone()).to_string();
    let mut claims = claims;
    claims.insert("exp".into(), Json::from(exp));
    let token = crate::tokens::signer::signer()?.sign(&Json::Object(claims))?;
    let header = format!("Bearer {token}");
    labels.insert(header.clone(), format!("Bearer <{what} {shown}>"));
    Some(Value::Header("authorization".to_owned(), vec![header]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn few_names_give_every_set_and_many_the_near_misses() {
        let all = sets(&names(&["a", "b", "c"]), &BTreeSet::new());
        assert_eq!(all.len(), 8);
        let many = names(&["a", "b", "c", "d", "e", "f", "g"]);
        let written = BTreeSet::from([names(&["a", "b", "c"])]);
        let some = sets(&many, &written);
        assert_eq!(some.len(), 1 + 1 + 7 + 1 + 3);
        for want in [
            vec![],
            vec!["a", "b", "c"],
            vec!["a", "b"],
            vec!["b", "c"],
            vec!["g"],
            vec!["a", "b", "c", "d", "e", "f", "g"],
        ] {
            let want: Vec<String> = want.into_iter().map(str::to_owned).collect();
            assert!(some.contains(&want), "{want:?} in {some:?}");
        }
    }

    #[test]
    fn claim_values_come_alone_together_and_absent() {
        let atoms = BTreeSet::from([Atom::Text("acme".into()), Atom::Number("3".into())]);
        let choices = claim_choices("tenant", &atoms);
        let shown: Vec<String> = choices
            .iter()
            .map(|c| Json::Object(c.iter().cloned().collect()).to_string())
            .collect();
        assert_eq!(
            shown,
            [
                r#"{}"#,
                r#"{"tenant":"acme"}"#,
                r#"{"tenant":3}"#,
                r#"{"tenant":["acme",3]}"#,
            ]
        );
    }
}
