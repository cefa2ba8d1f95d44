//! A reference evaluator: the policy semantics written as plainly as possible — a loop over
//! rules, each condition matched naively — to check the compiled engine against.
//!
//! It works on its own small model of a policy ([`RefPolicy`]), which renders itself as TOML
//! for the real engine to compile.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Forbid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMatch {
    Exact(String),
    Glob(String),
    Present,
    Absent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conds {
    pub ip: Option<Vec<String>>,
    pub path: Option<Vec<String>>,
    pub method: Option<Vec<String>>,
    pub host: Option<Vec<String>>,
    pub header: Option<(String, Vec<HeaderMatch>)>,
    pub user_agent: Option<Vec<String>>,
    pub client: Option<Vec<String>>,
    pub role: Option<Vec<String>>,
    pub authenticated: Option<bool>,
    /// `scope`: every listed scope (policies with tokens only).
    pub scope: Option<Vec<String>>,
    /// `claim = { tenant = [...] }` (policies with tokens only).
    pub tenant: Option<Vec<String>>,
}

impl Conds {
    pub fn is_empty(&self) -> bool {
        *self == Conds::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRule {
    pub name: String,
    pub effect: Effect,
    pub report: bool,
    pub when: Conds,
    pub unless: Option<Conds>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefPolicy {
    pub default: Effect,
    pub forbid_overrides: bool,
    /// `[paths] case_sensitive = false`.
    pub case_insensitive_paths: bool,
    pub lists: BTreeMap<String, Vec<String>>,
    /// client name -> (key, roles)
    pub clients: BTreeMap<String, (String, Vec<String>)>,
    /// Whether the policy trusts a token issuer (`corp`, whose tokens the test signs).
    pub tokens: bool,
    pub rules: Vec<RefRule>,
}

/// The issuer of the policies with tokens.
pub const TOKEN_ISSUER: &str = "https://id.example.com/";

/// A bearer token the test signs and sends in `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefToken {
    pub scopes: Vec<String>,
    pub tenant: Option<String>,
    /// False: expired an hour ago.
    pub valid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub peer: Option<IpAddr>,
    /// A bearer token, sent after the headers.
    pub token: Option<RefToken>,
}

/// The reference answer: `None` for "refused before any rule", else the effect and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Refused,
    Decided { allow: bool, rule: Option<String> },
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

fn arr(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

impl RefPolicy {
    pub fn to_toml(&self) -> String {
        let mut t = String::new();
        let eff = |e: Effect| {
            if e == Effect::Allow {
                "allow"
            } else {
                "forbid"
            }
        };
        let _ = writeln!(t, "[policy]\ndefault = {:?}", eff(self.default));
        if self.forbid_overrides {
            let _ = writeln!(t, "combine = \"forbid-overrides\"");
        }
        if self.case_insensitive_paths {
            let _ = writeln!(t, "[paths]\ncase_sensitive = false");
        }
        let _ = writeln!(t, "[lists]");
        for (name, nets) in &self.lists {
            let _ = writeln!(t, "{name} = {}", arr(nets));
        }
        if !self.clients.is_empty() {
            let _ = writeln!(t, "[keys]");
            for (name, (key, roles)) in &self.clients {
                let _ = writeln!(
                    t,
                    "[keys.clients.{name}]\nsha256 = [{:?}]\nroles = {}",
                    portcullis::hash_key(key.as_bytes()),
                    arr(roles)
                );
            }
        }
        if self.tokens {
            let _ = writeln!(
                t,
                "[tokens.issuers.corp]\nissuer = {TOKEN_ISSUER:?}\naudiences = [\"api\"]\n\
                 jwks = {{ url = \"https://id.example.com/jwks.json\" }}\nalgorithms = [\"RS256\"]"
            );
        }
        for r in &self.rules {
            let _ = writeln!(
                t,
                "[[rules]]\nname = {:?}\neffect = {:?}",
                r.name,
                eff(r.effect)
            );
            if r.report {
                let _ = writeln!(t, "mode = \"report\"");
            }
            let _ = writeln!(t, "when = {}", conds_toml(&r.when));
            // An empty `unless` is refused by the engine; the reference reads it as none.
            if let Some(u) = r.unless.as_ref().filter(|u| !u.is_empty()) {
                let _ = writeln!(t, "unless = {}", conds_toml(u));
            }
        }
        t
    }
}

fn conds_toml(c: &Conds) -> String {
    let mut parts = Vec::new();
    let mut put = |k: &str, v: &Option<Vec<String>>| {
        if let Some(v) = v {
            parts.push(format!("{k} = {}", arr(v)));
        }
    };
    put("ip", &c.ip);
    put("path", &c.path);
    put("method", &c.method);
    put("host", &c.host);
    put("user_agent", &c.user_agent);
    put("client", &c.client);
    put("role", &c.role);
    put("scope", &c.scope);
    if let Some(a) = c.authenticated {
        parts.push(format!("authenticated = {a}"));
    }
    if let Some(t) = &c.tenant {
        parts.push(format!("claim = {{ tenant = {} }}", arr(t)));
    }
    if let Some((name, ms)) = &c.header {
        let ms: Vec<String> = ms
            .iter()
            .map(|m| match m {
                HeaderMatch::Exact(v) => q(v),
                HeaderMatch::Glob(g) => format!("{{ glob = {} }}", q(g)),
                HeaderMatch::Present => "{ present = true }".into(),
                HeaderMatch::Absent => "{ absent = true }".into(),
            })
            .collect();
        parts.push(format!("header = {{ {} = [{}] }}", q(name), ms.join(", ")));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// The values of header `name`, trimmed. An underscore twin (`X_Env` for `x-env`) is the same
/// header, as CGI-style backends read it.
fn values<'a>(req: &'a RefRequest, name: &str) -> Vec<&'a str> {
    let spell = |n: &str| n.to_ascii_lowercase().replace('_', "-");
    req.headers
        .iter()
        .filter(|(n, _)| spell(n) == spell(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']))
        .collect()
}

/// The path as the reference reads it, or `None` when the request must be refused.
pub fn read_path(target: &str) -> Option<String> {
    if target.contains('#') {
        return None;
    }
    let path = target.split('?').next().unwrap_or("");
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let v = u8::from_str_radix(hex, 16).ok()?;
            if b"/\\%?#;".contains(&v) || v < 0x20 || v == 0x7f {
                return None;
            }
            out.push(v);
            i += 3;
        } else {
            if b"\\;".contains(&b) || b <= 0x20 || b == 0x7f {
                return None;
            }
            out.push(b);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    // C1 controls (U+0080 to U+009F) are control characters too.
    if s.chars().any(char::is_control) {
        return None;
    }
    let segments: Vec<&str> = s[1..].split('/').collect();
    for (k, seg) in segments.iter().enumerate() {
        if *seg == "." || *seg == ".." || (seg.is_empty() && k + 1 < segments.len()) {
            return None;
        }
        // Spaces and invisible characters that backends trim are refused at segment edges.
        let trimmed = |c: char| {
            c.is_whitespace()
                || [
                    '\u{180e}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}',
                ]
                .contains(&c)
        };
        if seg.starts_with(trimmed) || seg.ends_with(trimmed) {
            return None;
        }
    }
    Some(s)
}

/// How a glob reads its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `/` separates segments: `*`, `?` and classes never take it; `**` as a whole segment
    /// takes any segments.
    Path,
    /// Any text: `*` (and `**`) take any characters.
    Text,
    /// A host: text without classes (`[` and `]` are literal).
    Host,
}

/// Unicode simple case folding, approximated from the standard library's case mappings: the
/// lower case of a character's upper case, when each is one character. U+0131 DOTLESS I is
/// left alone: its upper case `I` folds with it only under Turkic rules, which simple folding
/// (and the regex engine's `(?i)`) leaves out. `tests/model.rs` checks that this agrees with
/// the regex engine on every character the generators use.
pub fn fold(c: char) -> char {
    fn one(mut it: impl Iterator<Item = char>) -> Option<char> {
        let c = it.next()?;
        it.next().is_none().then_some(c)
    }
    if c == '\u{131}' {
        return c;
    }
    one(c.to_uppercase())
        .and_then(|u| one(u.to_lowercase()))
        .unwrap_or(c)
}

/// Whether glob `pattern` matches `value`, character by character. A path glob ending in
/// `/**` also matches the directory itself.
fn glob_match(pattern: &str, value: &str, dialect: Dialect, ci: bool) -> bool {
    let mut pats = vec![pattern.to_owned()];
    if dialect == Dialect::Path {
        if pattern == "/**" {
            // Every path, and the asterisk form too.
            pats.push("\\*".to_owned());
        }
        if let Some(dir) = pattern.strip_suffix("/**") {
            if !dir.is_empty() {
                pats.push(dir.to_owned());
            }
        } else if !pattern.ends_with('/') && !pattern.ends_with("**") {
            // A trailing slash names the same route to many backends.
            pats.push(format!("{pattern}/"));
        }
    }
    let value: Vec<char> = value.chars().collect();
    pats.iter().any(|p| {
        expand_braces(p, dialect).iter().any(|q| {
            let q: Vec<char> = q.chars().collect();
            match_here(&q, &value, dialect, ci)
        })
    })
}

/// The length of the class starting at `p[0] == '['` (through its `]`).
fn class_len(p: &[char]) -> Option<usize> {
    let mut i = 1;
    if matches!(p.get(i), Some('!' | '^')) {
        i += 1;
    }
    // The first character of a class is literal, even `]`.
    i += 1;
    while *p.get(i)? != ']' {
        i += 1;
    }
    Some(i + 1)
}

/// The pattern once for each choice of its `{a,b}` alternatives (escapes and classes kept).
fn expand_braces(p: &str, dialect: Dialect) -> Vec<String> {
    let c: Vec<char> = p.chars().collect();
    // The first `{` outside escapes and classes, and its `}` and top-level commas.
    let mut i = 0;
    let mut open = None;
    let mut depth = 0;
    let mut commas = Vec::new();
    while i < c.len() {
        match c[i] {
            '\\' => i += 1,
            '[' if dialect != Dialect::Host => {
                i += class_len(&c[i..]).unwrap_or(1) - 1;
            }
            '{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            ',' if depth == 1 => commas.push(i),
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let start = open.unwrap_or(0);
                    let head: String = c[..start].iter().collect();
                    let tail: String = c[i + 1..].iter().collect();
                    let mut bounds = vec![start];
                    bounds.extend(&commas);
                    bounds.push(i);
                    let mut out = Vec::new();
                    for w in bounds.windows(2) {
                        let alt: String = c[w[0] + 1..w[1]].iter().collect();
                        out.extend(expand_braces(&format!("{head}{alt}{tail}"), dialect));
                    }
                    return out;
                }
            }
            _ => {}
        }
        i += 1;
    }
    vec![p.to_owned()]
}

/// Backtracking match of a pattern without alternatives against the whole value.
fn match_here(p: &[char], v: &[char], dialect: Dialect, ci: bool) -> bool {
    let path = dialect == Dialect::Path;
    let sep = |c: char| path && c == '/';
    let same = |a: char, b: char| a == b || (ci && fold(a) == fold(b));
    let Some(&first) = p.first() else {
        return v.is_empty();
    };
    let one_then = |ok: &dyn Fn(char) -> bool, rest: &[char]| {
        v.first().is_some_and(|&x| ok(x)) && match_here(rest, &v[1..], dialect, ci)
    };
    match first {
        '\\' => match p.get(1) {
            Some(&c) => one_then(&|x| same(c, x), &p[2..]),
            None => false,
        },
        '*' if path && p.get(1) == Some(&'*') => {
            // A whole-segment `**`: `**/rest` takes no segment or any, a final `**` anything.
            if p.get(2) == Some(&'/') {
                (0..=v.len())
                    .filter(|&k| k == 0 || v[k - 1] == '/')
                    .any(|k| match_here(&p[3..], &v[k..], dialect, ci))
            } else {
                (0..=v.len()).any(|k| match_here(&p[2..], &v[k..], dialect, ci))
            }
        }
        '*' => {
            let mut rest = &p[1..];
            while !path && rest.first() == Some(&'*') {
                rest = &rest[1..];
            }
            (0..=v.len())
                .take_while(|&k| k == 0 || !sep(v[k - 1]))
                .any(|k| match_here(rest, &v[k..], dialect, ci))
        }
        '?' => one_then(&|x| !sep(x), &p[1..]),
        '[' if dialect != Dialect::Host => {
            let Some(len) = class_len(p) else {
                return false;
            };
            let negated = matches!(p[1], '!' | '^');
            let body = &p[if negated { 2 } else { 1 }..len - 1];
            let mut ranges = Vec::new();
            let mut i = 0;
            while i < body.len() {
                if body.get(i + 1) == Some(&'-') && i + 2 < body.len() {
                    ranges.push((body[i], body[i + 2]));
                    i += 3;
                } else {
                    ranges.push((body[i], body[i]));
                    i += 1;
                }
            }
            let inside = |x: char| {
                ranges.iter().any(|&(lo, hi)| {
                    (lo <= x && x <= hi) || (ci && (lo..=hi).any(|y| fold(y) == fold(x)))
                })
            };
            one_then(&|x| !sep(x) && inside(x) != negated, &p[len..])
        }
        c => one_then(&|x| same(c, x), &p[1..]),
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn host_of(req: &RefRequest) -> Option<String> {
    let h = values(req, "host").first()?.to_ascii_lowercase();
    let h = h
        .split(':')
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_owned();
    (!h.is_empty()).then_some(h)
}

struct Ctx<'a> {
    policy: &'a RefPolicy,
    req: &'a RefRequest,
    client_ip: IpAddr,
    path: String,
    method: String,
    client: Option<String>,
    host: Option<String>,
    /// The token, when it verified.
    token: Option<&'a RefToken>,
}

/// Whether a condition set holds. `forbid_side` says whether holding can only forbid, which
/// decides how several header values are read.
fn conds_hold(cx: &Ctx<'_>, c: &Conds, forbid_side: bool) -> bool {
    // A value holding a control character is read the way that forbids.
    // A value with a control character, or with Unicode white space or an invisible character
    // at an edge (which Unicode-aware trimming would drop), is not read as written.
    let trimmed = |c: char| {
        c.is_whitespace()
            || [
                '\u{180e}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}',
            ]
            .contains(&c)
    };
    let readable = |v: &str| {
        !v.chars().any(|c| c.is_control() && c != '\t')
            && !v.starts_with(trimmed)
            && !v.ends_with(trimmed)
    };
    let multi = |vals: Vec<&str>, m: &dyn Fn(&str) -> bool| -> bool {
        let m = |v: &&str| if readable(v) { m(v) } else { forbid_side };
        if forbid_side {
            vals.iter().any(m)
        } else {
            !vals.is_empty() && vals.iter().all(m)
        }
    };
    if let Some(ips) = &c.ip {
        let hit = ips.iter().any(|e| {
            let nets: Vec<IpNet> = match e.strip_prefix('@') {
                Some(l) => cx.policy.lists[l].iter().map(|n| net(n)).collect(),
                None => vec![net(e)],
            };
            nets.iter().any(|n| n.contains(&cx.client_ip))
        });
        if !hit {
            return false;
        }
    }
    if let Some(ps) = &c.path {
        if !ps
            .iter()
            .any(|p| glob_match(p, &cx.path, Dialect::Path, cx.policy.case_insensitive_paths))
        {
            return false;
        }
    }
    if let Some(ms) = &c.method {
        let hit = ms.iter().any(|m| {
            let m = m.to_ascii_uppercase();
            m == cx.method || (m == "GET" && cx.method == "HEAD")
        });
        if !hit {
            return false;
        }
    }
    if let Some(hs) = &c.host {
        let Some(host) = &cx.host else { return false };
        if !hs.iter().any(|p| glob_match(p, host, Dialect::Host, true)) {
            return false;
        }
    }
    if let Some((name, ms)) = &c.header {
        // A header value is also read as the list of its comma-separated elements.
        let mut vals = values(cx.req, name);
        let elements: Vec<&str> = vals
            .iter()
            .filter(|v| v.contains(','))
            .flat_map(|v| {
                v.split(',')
                    .map(|e| e.trim_matches([' ', '\t']))
                    .filter(|e| !e.is_empty())
            })
            .collect();
        vals.extend(elements);
        let hit = ms.iter().any(|m| match m {
            HeaderMatch::Present => !vals.is_empty(),
            HeaderMatch::Absent => vals.is_empty(),
            _ => false,
        }) || multi(vals.clone(), &|v| {
            ms.iter().any(|m| match m {
                HeaderMatch::Exact(e) => e == v,
                HeaderMatch::Glob(g) => glob_match(g, v, Dialect::Text, false),
                _ => false,
            })
        });
        if !hit {
            return false;
        }
    }
    if let Some(uas) = &c.user_agent {
        let vals = values(cx.req, "user-agent");
        if !multi(vals, &|v| {
            uas.iter().any(|p| glob_match(p, v, Dialect::Text, true))
        }) {
            return false;
        }
    }
    if let Some(cs) = &c.client {
        if !cx.client.as_ref().is_some_and(|n| cs.contains(n)) {
            return false;
        }
    }
    if let Some(rs) = &c.role {
        let roles = cx
            .client
            .as_ref()
            .map(|n| cx.policy.clients[n].1.clone())
            .unwrap_or_default();
        if !rs.iter().any(|r| roles.contains(r)) {
            return false;
        }
    }
    if let Some(a) = c.authenticated {
        if a != (cx.client.is_some() || cx.token.is_some()) {
            return false;
        }
    }
    if let Some(want) = &c.scope {
        if !cx
            .token
            .is_some_and(|t| want.iter().all(|s| t.scopes.contains(s)))
        {
            return false;
        }
    }
    if let Some(want) = &c.tenant {
        if !cx
            .token
            .and_then(|t| t.tenant.as_ref())
            .is_some_and(|t| want.contains(t))
        {
            return false;
        }
    }
    true
}

fn net(s: &str) -> IpNet {
    match s.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => IpNet::from(s.parse::<IpAddr>().expect("generated address")),
    }
}

fn applies(cx: &Ctx<'_>, r: &RefRule) -> bool {
    let forbid = r.effect == Effect::Forbid;
    conds_hold(cx, &r.when, forbid)
        && !r
            .unless
            .as_ref()
            .is_some_and(|u| !u.is_empty() && conds_hold(cx, u, !forbid))
}

fn decide_one(cx: &Ctx<'_>) -> (bool, Option<String>) {
    let p = cx.policy;
    let enforcing = p.rules.iter().filter(|r| !r.report);
    let hit = if p.forbid_overrides {
        let applying: Vec<&RefRule> = enforcing.filter(|r| applies(cx, r)).collect();
        applying
            .iter()
            .find(|r| r.effect == Effect::Forbid)
            .or_else(|| applying.first())
            .copied()
    } else {
        enforcing.into_iter().find(|r| applies(cx, r))
    };
    match hit {
        Some(r) => (r.effect == Effect::Allow, Some(r.name.clone())),
        None => (p.default == Effect::Allow, None),
    }
}

/// Percent-decodes a query part; `None` on an invalid escape.
fn decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

pub fn evaluate(policy: &RefPolicy, req: &RefRequest) -> Answer {
    let Some(path) = read_path(&req.target) else {
        return Answer::Refused;
    };
    // Under case-insensitive paths, a character that Java-style comparison folds to an ASCII
    // letter (dotless i, the Kelvin sign, long s, ...) is ambiguous.
    let folds_to_ascii = |c: char| {
        !c.is_ascii()
            && c.to_uppercase()
                .chain(c.to_lowercase())
                .any(|x| x.is_ascii())
    };
    if policy.case_insensitive_paths && path.chars().any(folds_to_ascii) {
        return Answer::Refused;
    }
    // A character that NFKC turns into ASCII (fullwidth letters, the Kelvin sign) is read as
    // that ASCII by normalising backends.
    // An ASCII character that keeps a combining mark after it (`˜` is a space and U+0303)
    // is not ASCII to anyone.
    let nfkc_ascii = |c: char| {
        use unicode_normalization::char::is_combining_mark;
        use unicode_normalization::UnicodeNormalization;
        let n: Vec<char> = c.to_string().nfkc().collect();
        !c.is_ascii()
            && (0..n.len())
                .any(|i| n[i].is_ascii() && !n.get(i + 1).is_some_and(|&m| is_combining_mark(m)))
    };
    if path.chars().any(nfkc_ascii) {
        return Answer::Refused;
    }
    // Windows names under case-insensitive paths: a trailing dot, a stream, a short name.
    let windows = |seg: &str| {
        seg.ends_with('.')
            || seg.contains(":$")
            || seg
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'~' && w[1].is_ascii_digit())
    };
    if policy.case_insensitive_paths && path.split('/').any(windows) {
        return Answer::Refused;
    }
    // No raw control character or space anywhere in the target, query included.
    if req.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Answer::Refused;
    }
    if !req.method.bytes().all(|b| b.is_ascii_alphabetic()) || req.method.is_empty() {
        return Answer::Refused;
    }
    if values(req, "host").len() > 1 {
        return Answer::Refused;
    }
    // When rules read the host, a request without one is refused: backends fill one in.
    let reads_host = policy
        .rules
        .iter()
        .any(|r| r.when.host.is_some() || r.unless.as_ref().is_some_and(|u| u.host.is_some()));
    if reads_host && host_of(req).is_none() {
        return Answer::Refused;
    }
    let Some(peer) = req.peer else {
        return Answer::Refused;
    };
    let token = |m: &str| {
        !m.is_empty()
            && m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let mut methods = vec![req.method.to_ascii_uppercase()];
    for h in [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    ] {
        for v in values(req, h) {
            if !token(v) {
                return Answer::Refused;
            }
            let v = v.to_ascii_uppercase();
            if !methods.contains(&v) {
                methods.push(v);
            }
        }
    }
    // `_method=` in the query is one more override, however a backend spells it: `&` or `;`
    // between parameters, `+` for a space, PHP's `.`/` `/`[` for `_` after dropping leading
    // spaces, any case, `_method[]`.
    if let Some((_, query)) = req.target.split_once('?') {
        for pair in query.split(['&', ';']) {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let Some(k) = decode(&k.replace('+', " ")) else {
                return Answer::Refused;
            };
            // PHP ends a parameter name at a NUL byte.
            let k = k.split(|&b| b == 0).next().unwrap_or(&[]).to_vec();
            let k = String::from_utf8_lossy(&k)
                .trim_start_matches(' ')
                .to_owned();
            let php: String = k
                .chars()
                .take(7)
                .map(|c| {
                    if ".[ ".contains(c) {
                        '_'
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            let rest = k.get(7..).unwrap_or("x");
            if php != "_method" || !(rest.is_empty() || rest.starts_with('[')) {
                continue;
            }
            let Some(v) = decode(&v.replace('+', " ")) else {
                return Answer::Refused;
            };
            {
                let Ok(v) = String::from_utf8(v) else {
                    return Answer::Refused;
                };
                if !token(&v) {
                    return Answer::Refused;
                }
                let v = v.to_ascii_uppercase();
                if !methods.contains(&v) {
                    methods.push(v);
                }
            }
        }
    }
    if methods.len() > 4 {
        return Answer::Refused;
    }
    // Keys (read only when the policy has clients): the key header and bearer tokens; two
    // different keys are ambiguous.
    let mut client = None;
    let mut bearer: Vec<&str> = Vec::new();
    for v in values(req, "authorization") {
        let b = v.as_bytes();
        if b.len() > 7 && b[..6].eq_ignore_ascii_case(b"bearer") && matches!(b[6], b' ' | b'\t') {
            let k = v[7..].trim_matches([' ', '\t']);
            if !k.is_empty() {
                bearer.push(k);
            }
        }
    }
    // The token goes after the headers; to the reference it is a string no key equals.
    if req.token.is_some() {
        bearer.push("(token)");
    }
    // With tokens, `Authorization: Bearer` carries tokens only: one, and no key beside it.
    let mut token = None;
    if policy.tokens {
        if bearer.iter().any(|k| *k != bearer[0] || k.contains(',')) {
            return Answer::Refused;
        }
        let key = values(req, "x-api-key").into_iter().any(|k| !k.is_empty());
        if key && !bearer.is_empty() && !policy.clients.is_empty() {
            return Answer::Refused;
        }
        if bearer.first() == Some(&"(token)") {
            token = req.token.as_ref().filter(|t| t.valid);
        }
        bearer.clear();
    }
    if !policy.clients.is_empty() {
        let mut keys: Vec<&str> = values(req, "x-api-key")
            .into_iter()
            .filter(|k| !k.is_empty())
            .collect();
        keys.extend(bearer);
        // Two different keys, or one with a comma (a list to some backends), are ambiguous.
        if keys.iter().any(|k| *k != keys[0] || k.contains(',')) {
            return Answer::Refused;
        }
        client = keys.first().and_then(|k| {
            policy
                .clients
                .iter()
                .find(|(_, (key, _))| key == k)
                .map(|(n, _)| n.clone())
        });
    }
    let mut first = None;
    for m in methods {
        let cx = Ctx {
            policy,
            req,
            client_ip: canonical(peer),
            path: path.clone(),
            method: m,
            client: client.clone(),
            host: host_of(req),
            token,
        };
        let (allow, rule) = decide_one(&cx);
        if !allow {
            return Answer::Decided { allow, rule };
        }
        first.get_or_insert(Answer::Decided { allow, rule });
    }
    first.unwrap_or(Answer::Refused)
}
