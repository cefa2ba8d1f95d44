//! Rego (`regorus`).
//!
//! The rules are data (`data.gate.rules`, a JSON document: one object per rule with `effect`,
//! `when` and `unless`, each a table of alternatives like the portcullis policy), and one
//! generic Rego module decides over them: a rule applies when every condition of its `when`
//! holds and its `unless` does not; `first` is the smallest index of an applying rule and its
//! effect decides; `default allow := false` is the forbid default. That is portcullis's
//! first-match, exactly.
//!
//! Input: `{ ip, method, path, roles, headers: { lower-case name: value }, user_agent }`
//! (credential headers left out; roles from the key lookup). Conditions use
//! `net.cidr_contains`, `glob.match(g, ["/"], path)` (`*` inside a segment, `**` across, as in
//! portcullis; `/a/**` gets a second alternative `/a`, which portcullis also covers), and
//! `glob.match(g, null, user_agent)` on the lower-cased User-Agent.
//!
//! regorus keeps compiled globs in an LRU cache of 128 by default; the policy holds about a
//! thousand, so [`RegoGate::load`] raises the cache to hold them all, as a user who profiled
//! would.

use std::collections::BTreeMap;

use portcullis::Request;
use regorus::{Engine, Value};
use serde_json::{json, Map, Value as Json};

use crate::http::{Fields, Keys};
use crate::spec::{path_alternatives, Conds, Spec};

/// The Rego module.
pub const MODULE: &str = r#"package portcullis

import rego.v1

default allow := false

# The indexes of the rules that apply to the input.
applies contains i if {
	some i, r in data.gate.rules
	holds(r.when)
	not exempt(r)
}

exempt(r) if {
	r.unless
	holds(r.unless)
}

holds(c) if {
	ip_ok(c)
	method_ok(c)
	role_ok(c)
	headers_ok(c)
	path_ok(c)
	ua_ok(c)
}

ip_ok(c) if not c.ip

ip_ok(c) if {
	some cidr in c.ip
	net.cidr_contains(cidr, input.ip)
}

method_ok(c) if not c.method

method_ok(c) if input.method in c.method

role_ok(c) if not c.role

role_ok(c) if {
	some role in c.role
	role in input.roles
}

headers_ok(c) if not c.present

headers_ok(c) if {
	every name in c.present {
		input.headers[name]
	}
}

path_ok(c) if not c.path

path_ok(c) if {
	some g in c.path
	glob.match(g, ["/"], input.path)
}

ua_ok(c) if not c.user_agent

ua_ok(c) if {
	some g in c.user_agent
	glob.match(g, null, input.user_agent)
}

# First match: the first rule that applies decides.
first := min(applies)

allow if data.gate.rules[first].effect == "allow"
"#;

/// The data document for `spec`.
pub fn data_json(spec: &Spec) -> String {
    let conds = |c: &Conds| -> Json {
        let mut m = Map::new();
        if let Some(ip) = &c.ip {
            m.insert("ip".into(), json!(ip));
        }
        if let Some(path) = &c.path {
            let alts: Vec<String> = path.iter().flat_map(|g| path_alternatives(g)).collect();
            m.insert("path".into(), json!(alts));
        }
        if let Some(method) = &c.method {
            m.insert("method".into(), json!(method));
        }
        if let Some(role) = &c.role {
            m.insert("role".into(), json!(role));
        }
        if !c.present.is_empty() {
            m.insert("present".into(), json!(c.present));
        }
        if let Some(ua) = &c.user_agent {
            m.insert("user_agent".into(), json!(ua));
        }
        Json::Object(m)
    };
    let rules: Vec<Json> = spec
        .rules
        .iter()
        .map(|r| {
            let mut o = json!({
                "name": r.name,
                "effect": if r.allow { "allow" } else { "forbid" },
                "when": conds(&r.when),
            });
            if let Some(u) = &r.unless {
                o["unless"] = conds(u);
            }
            o
        })
        .collect();
    json!({ "gate": { "rules": rules } }).to_string()
}

/// regorus with the module and data loaded.
pub struct RegoGate {
    keys: Keys,
    engine: Engine,
}

impl RegoGate {
    /// Loads the module and the data.
    pub fn load(spec: &Spec, data: &str) -> RegoGate {
        let globs: usize = spec
            .rules
            .iter()
            .flat_map(|r| std::iter::once(&r.when).chain(r.unless.as_ref()))
            .map(|c| {
                c.path.as_ref().map_or(0, |p| 2 * p.len())
                    + c.user_agent.as_ref().map_or(0, Vec::len)
            })
            .sum();
        regorus::cache::configure(regorus::cache::Config {
            glob: (globs + 64).max(128),
            ..Default::default()
        });
        let mut engine = Engine::new();
        engine
            .add_policy("portcullis.rego".into(), MODULE.into())
            .expect("Rego module parses");
        engine
            .add_data(Value::from_json_str(data).expect("data parses"))
            .expect("data loads");
        RegoGate {
            keys: Keys::new(spec),
            engine,
        }
    }

    fn input(&self, f: &Fields<'_>) -> Value {
        let roles: Vec<Value> = f
            .client
            .map(|i| {
                self.keys.clients[i]
                    .roles
                    .iter()
                    .map(|r| Value::from(r.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let mut headers = BTreeMap::new();
        for (name, value) in f.request.headers() {
            let name = name.to_ascii_lowercase();
            if self.keys.is_credential(&name) {
                continue;
            }
            headers
                .entry(Value::from(name))
                .or_insert_with(|| Value::from(String::from_utf8_lossy(value).as_ref()));
        }
        let mut input = BTreeMap::new();
        input.insert(Value::from("ip"), Value::from(f.ip.to_string()));
        input.insert(Value::from("method"), Value::from(f.method));
        input.insert(Value::from("path"), Value::from(f.path));
        input.insert(Value::from("roles"), Value::from(roles));
        input.insert(Value::from("headers"), Value::from(headers));
        input.insert(Value::from("user_agent"), Value::from(f.user_agent()));
        Value::from(input)
    }

    /// Allow or not.
    pub fn allows(&mut self, request: &Request) -> bool {
        let Some(f) = Fields::read(request, &self.keys) else {
            return false;
        };
        let input = self.input(&f);
        self.engine.set_input(input);
        self.engine
            .eval_rule("data.portcullis.allow".into())
            .expect("Rego evaluates")
            == Value::from(true)
    }
}
