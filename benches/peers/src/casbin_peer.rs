//! casbin (`casbin` crate), with its stock matcher functions.
//!
//! Request: `r = ip, path, method, client, h_<header>..., ua` — the client name comes from
//! the key lookup (empty without a known key); `h_<header>` is `"1"` when a header a rule asks
//! for is present, else `"0"`; `ua` is the lower-cased User-Agent.
//!
//! Policy lines: `p = ip, path, method, role, h_<header>..., ua, not_ip, eft`, `*` meaning
//! "any". A rule becomes the product of its alternatives (CIDRs × path globs × methods), all
//! with the rule's effect, in rule order; `g, <client>, <role>` lines give clients their roles.
//! The matcher tests the cheap fields first, so the costly functions run only on lines that
//! can still match:
//!
//! - `ipMatch(r.ip, p.ip)` for CIDRs,
//! - `globMatch(r.path, p.path)` for path globs (casbin compiles it with `/` as a separator,
//!   as portcullis reads paths; `/a/**` gets a second line `/a`, which portcullis also covers),
//! - `r.method == p.method`, `g(r.client, p.role)` for roles,
//! - `regexMatch(r.ua, p.ua)` for User-Agent globs turned into anchored regexes,
//! - `unless { ip = [...] }` as `!ipMatchAny(r.ip, p.not_ip)`, `not_ip` holding the CIDRs
//!   separated by spaces: the one function registered here, built on casbin's own `ip_match`,
//!   because one policy line cannot hold a list otherwise.
//!
//! Combining: `e = priority(p.eft) || deny` — lines are tried in order and the first one that
//! matches decides, no match denies: portcullis's first-match with a forbid default, exactly.
//!
//! Note that casbin's `ipMatch`, `globMatch` and `regexMatch` parse or compile their pattern on
//! every call, and every line is evaluated by the embedded script engine; nothing is cached
//! (casbin's `cached` feature caches whole decisions by request, which would measure a hash
//! map, not the policy).

use std::fmt::Write;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use casbin::function_map::{ip_match, OperatorFunction};
use casbin::prelude::*;
use casbin::rhai::{Dynamic, ImmutableString};
use portcullis::Request;

use crate::http::{Fields, Keys};
use crate::spec::{path_alternatives, Spec};

/// The model and the policy lines, as the two files a casbin user keeps.
pub struct CasbinText {
    /// model.conf
    pub model: String,
    /// policy.csv
    pub policy: String,
    /// The headers the request definition carries a presence flag for.
    pub headers: Vec<String>,
}

/// The model and policy for `spec`.
pub fn policy_text(spec: &Spec) -> CasbinText {
    let mut headers: Vec<String> = Vec::new();
    for r in &spec.rules {
        for h in r.when.present.iter() {
            if !headers.contains(h) {
                headers.push(h.clone());
            }
        }
        if let Some(u) = &r.unless {
            assert!(
                u.path.is_none()
                    && u.method.is_none()
                    && u.role.is_none()
                    && u.present.is_empty()
                    && u.user_agent.is_none(),
                "{}: only `ip` is translated in `unless`",
                r.name
            );
        }
    }
    let fields: Vec<String> = headers.iter().map(|h| field(h)).collect();
    let (r_flags, p_flags) = if fields.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(", {}", fields.join(", ")),
            format!(", {}", fields.join(", ")),
        )
    };
    let mut m = String::from("(p.method == \"*\" || r.method == p.method)");
    for f in &fields {
        let _ = write!(m, " && (p.{f} == \"*\" || r.{f} == p.{f})");
    }
    m.push_str(
        " && (p.role == \"*\" || g(r.client, p.role))\
         && (p.ip == \"*\" || ipMatch(r.ip, p.ip))\
         && (p.path == \"*\" || globMatch(r.path, p.path))\
         && (p.ua == \"*\" || regexMatch(r.ua, p.ua))\
         && (p.not_ip == \"*\" || !ipMatchAny(r.ip, p.not_ip))",
    );
    let model = format!(
        "[request_definition]\nr = ip, path, method, client{r_flags}, ua\n\n\
         [policy_definition]\np = ip, path, method, role{p_flags}, ua, not_ip, eft\n\n\
         [role_definition]\ng = _, _\n\n\
         [policy_effect]\ne = priority(p.eft) || deny\n\n\
         [matchers]\nm = {m}\n"
    );

    let any = || vec!["*".to_owned()];
    let mut policy = String::new();
    for rule in &spec.rules {
        let w = &rule.when;
        let ips = w.ip.clone().unwrap_or_else(any);
        let paths = w
            .path
            .as_ref()
            .map(|g| g.iter().flat_map(|g| path_alternatives(g)).collect())
            .unwrap_or_else(any);
        let methods = w.method.clone().unwrap_or_else(any);
        let roles = w.role.clone().unwrap_or_else(any);
        let uas = w
            .user_agent
            .as_ref()
            .map(|g| g.iter().map(|g| ua_regex(g)).collect())
            .unwrap_or_else(any);
        let flags: String = headers
            .iter()
            .map(|h| if w.present.contains(h) { ", 1" } else { ", *" })
            .collect();
        let not_ip = match rule.unless.as_ref().and_then(|u| u.ip.as_ref()) {
            Some(cidrs) => cidrs.join(" "),
            None => "*".to_owned(),
        };
        let eft = if rule.allow { "allow" } else { "deny" };
        for ip in &ips {
            for path in &paths {
                for method in &methods {
                    for role in &roles {
                        for ua in &uas {
                            for v in [ip, path, method, role, ua, &not_ip] {
                                assert!(!v.contains([',', '"', '\n']), "CSV field {v:?}");
                            }
                            let _ = writeln!(
                                policy,
                                "p, {ip}, {path}, {method}, {role}{flags}, {ua}, {not_ip}, {eft}"
                            );
                        }
                    }
                }
            }
        }
    }
    for c in &spec.clients {
        for role in &c.roles {
            let _ = writeln!(policy, "g, {}, {role}", c.name);
        }
    }
    CasbinText {
        model,
        policy,
        headers,
    }
}

/// The request field for a header's presence flag.
fn field(header: &str) -> String {
    let mut f = String::from("h_");
    f.extend(
        header
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    f
}

/// A lower-case User-Agent glob as an anchored regex.
fn ua_regex(glob: &str) -> String {
    let mut out = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' | '{' | '\\' => panic!("User-Agent glob {glob:?}: not translated"),
            c if c.is_ascii_alphanumeric() || c == ' ' => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out.push('$');
    out
}

/// `ipMatchAny(ip, "cidr cidr ...")`: casbin's `ip_match` against each CIDR.
fn ip_match_any(ip: Dynamic, cidrs: Dynamic) -> Dynamic {
    let ip = ip
        .into_immutable_string()
        .unwrap_or_else(|_| ImmutableString::new());
    let cidrs = cidrs
        .into_immutable_string()
        .unwrap_or_else(|_| ImmutableString::new());
    cidrs
        .split(' ')
        .filter(|c| !c.is_empty())
        .any(|c| ip_match(&ip, c))
        .into()
}

/// Drives a future that never waits on I/O (casbin's in-memory model and adapter) to its end,
/// without a runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// casbin with the model and policy loaded.
pub struct CasbinGate {
    keys: Keys,
    enforcer: Enforcer,
    headers: Vec<String>,
}

impl CasbinGate {
    /// Loads the model and the policy lines from memory.
    pub fn load(spec: &Spec, text: &CasbinText) -> CasbinGate {
        let model = block_on(DefaultModel::from_str(&text.model)).expect("casbin model");
        let adapter = StringAdapter::new(&text.policy);
        let mut enforcer = block_on(Enforcer::new(model, adapter)).expect("casbin enforcer");
        enforcer.add_function("ipMatchAny", OperatorFunction::Arg2(ip_match_any));
        CasbinGate {
            keys: Keys::new(spec),
            enforcer,
            headers: text.headers.clone(),
        }
    }

    /// The number of `p` lines.
    pub fn policy_lines(&self) -> usize {
        self.enforcer.get_policy().len()
    }

    /// Allow or not.
    pub fn allows(&self, request: &Request) -> bool {
        let Some(f) = Fields::read(request, &self.keys) else {
            return false;
        };
        let client = f.client.map_or("", |i| self.keys.clients[i].name.as_str());
        let mut args: Vec<String> = vec![
            f.ip.to_string(),
            f.path.to_owned(),
            f.method.to_owned(),
            client.to_owned(),
        ];
        for h in &self.headers {
            args.push(if f.header(h).is_some() { "1" } else { "0" }.to_owned());
        }
        args.push(f.user_agent());
        self.enforcer.enforce(args).expect("casbin enforce")
    }
}
