//! Differential tests: what the engine reads against what real frameworks read.
//!
//! For a request, real axum and actix-web servers on loopback answer with what they read from
//! it: the host (axum-extra's `Host`, actix-web's `ConnectionInfo::host`), the path (the URI
//! path both route on, axum's decoded wildcard, actix-web's partly decoded routing path, its
//! `match_info` and its decoded `web::Path`), the method and the method overrides a backend
//! may honour (override headers, `_method` in the query as each framework's query extractor
//! parses it), and the client address (`ConnectionInfo::realip_remote_addr`).
//!
//! Each reading R becomes a policy: `default = "allow"` and one forbid rule whose condition is
//! exactly R. The engine must not allow the request, neither through `Engine::decide` nor
//! through the middleware in front of the same handler on both frameworks. That is the
//! product's promise: either the engine reads what the framework reads, or it does not allow.
//! A reading that no policy can name (a path with a control character, a host with a space)
//! must make the engine refuse the request. Conversely, with `default = "forbid"` and one
//! allow rule on the engine's own reading, a request the engine allows must be read the same
//! way by every framework.
//!
//! The framework readings are translated into the policy's terms, not re-derived: a raw path
//! is percent-decoded once (policy paths are decoded paths), a host is lower-cased with its
//! port and one trailing dot removed (as policy hosts are), and globs are escaped.

mod support;

#[path = "support/echo.rs"]
mod echo;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use echo::{Echo, EchoServer};
use portcullis::gate::Gate;
use portcullis::{Engine, Policy, Request};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

/// The address the test client connects from: a trusted proxy in every client-address policy.
const PEER: &str = "127.0.0.1";

/// The trusted proxies of the client-address policies.
const TRUSTED: &str = r#"["127.0.0.0/8", "10.0.0.0/8"]"#;

/// A request as bytes on the wire: method, raw target and header lines, in order.
#[derive(Clone, PartialEq, Eq)]
struct Raw {
    method: String,
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    /// HTTP/1.0, where a request may come without a `Host`.
    http10: bool,
}

impl Raw {
    fn new(method: &str, target: &str, headers: &[(&str, &str)]) -> Raw {
        Raw {
            method: method.to_owned(),
            target: target.as_bytes().to_vec(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            http10: false,
        }
    }

    fn http10(mut self) -> Raw {
        self.http10 = true;
        self
    }

    fn wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(if self.http10 {
            b" HTTP/1.0\r\n"
        } else {
            b" HTTP/1.1\r\n"
        });
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        out
    }

    /// The same request for `Engine::decide`: header values without the white space around
    /// them, as HTTP parsers hand them on.
    fn engine_request(&self) -> Request {
        let peer: IpAddr = PEER.parse().expect("peer");
        let mut r = Request::new(self.method.clone(), self.target.clone()).peer(peer);
        for (name, value) in &self.headers {
            r = r.header(name.clone(), trim_ows(value).to_vec());
        }
        r.header("Connection", "close")
    }
}

/// The request bytes, escaped: what a failure report shows.
impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.wire().escape_ascii())
    }
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &v[start..end]
}

/// Echo servers without the gate (what the frameworks read) and with it (what gets through),
/// shut down when dropped.
struct Harness {
    echo_axum: EchoServer,
    echo_actix: EchoServer,
    gated_axum: EchoServer,
    gated_actix: EchoServer,
    gate: Gate,
    // Dropped last: the axum servers stop on it.
    runtime: tokio::runtime::Runtime,
}

/// What the two frameworks read, or the status they answered with instead.
struct Readings {
    axum: Result<Echo, u16>,
    actix: Result<Echo, u16>,
}

impl Readings {
    fn each(&self) -> impl Iterator<Item = (&'static str, &Echo)> {
        [("axum", &self.axum), ("actix", &self.actix)]
            .into_iter()
            .filter_map(|(name, r)| r.as_ref().ok().map(|e| (name, e)))
    }
}

impl Harness {
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let gate = Gate::new(compile(&policy("allow", "", "")).expect("policy"));
        Harness {
            echo_axum: echo::start_axum(&runtime, None),
            echo_actix: echo::start_actix(None),
            gated_axum: echo::start_axum(&runtime, Some(gate.clone())),
            gated_actix: echo::start_actix(Some(gate.clone())),
            gate,
            runtime,
        }
    }

    fn ask(&self, addr: SocketAddr, raw: &Raw) -> Result<Echo, u16> {
        self.runtime.block_on(echo::ask(addr, &raw.wire()))
    }

    fn readings(&self, raw: &Raw) -> Readings {
        Readings {
            axum: self.ask(self.echo_axum.addr, raw),
            actix: self.ask(self.echo_actix.addr, raw),
        }
    }

    /// Puts `engine` in front of both gated servers and sends `raw` to each: the frameworks
    /// whose handler answered, with what it read.
    fn through_gate(&self, engine: Engine, raw: &Raw) -> Vec<(&'static str, Echo)> {
        self.gate.swap(engine);
        [
            ("axum", self.gated_axum.addr),
            ("actix", self.gated_actix.addr),
        ]
        .into_iter()
        .filter_map(|(name, addr)| self.ask(addr, raw).ok().map(|e| (name, e)))
        .collect()
    }
}

fn compile(toml: &str) -> Result<Engine, String> {
    Policy::from_toml(toml)
        .and_then(|p| p.compile())
        .map_err(|e| e.to_string())
}

/// A policy: the default, extra top-level tables, and one rule (`rule` is its body: effect and
/// conditions), if any.
fn policy(default: &str, tables: &str, rule: &str) -> String {
    let mut out = format!("[policy]\ndefault = \"{default}\"\n\n{tables}\n");
    if !rule.is_empty() {
        out.push_str(&format!("[[rules]]\nname = \"reading\"\n{rule}\n"));
    }
    out
}

/// A TOML string holding `s` exactly.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// `s` as a glob that matches exactly `s`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A host glob: brackets are literal in host globs already (IPv6 literals).
fn host_glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '{' | '}' | '\\' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which part of a request a reading is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    Path,
    Method,
}

impl Kind {
    /// A condition on this part that no generated request meets: it makes the engine read the
    /// part without deciding anything by it.
    fn reader(self) -> &'static str {
        match self {
            Kind::Host => r#"host = ["never.invalid"]"#,
            Kind::Path => r#"path = ["/never/matched/by/any/case"]"#,
            Kind::Method => r#"method = ["NEVERMATCHED"]"#,
        }
    }

    fn condition(self, value: &str) -> String {
        let key = match self {
            Kind::Host => "host",
            Kind::Path => "path",
            Kind::Method => "method",
        };
        format!("{key} = [{}]", quote(value))
    }
}

/// One framework reading in the policy's terms: a value a condition can name, or why none can.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    Named(String),
    Unnameable(String),
}

/// A reading: who read it, of which part, the value as the framework gave it, and its form.
#[derive(Debug, Clone)]
struct Reading {
    who: String,
    kind: Kind,
    raw: String,
    form: Form,
}

/// A path as a policy names it. `encoded`: the framework left escapes in it (a raw URI path,
/// or actix-web's partly decoded one); policy paths are decoded once.
fn path_form(value: &str, encoded: bool) -> Form {
    let decoded = if encoded {
        match percent_decode(value.as_bytes()) {
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => return Form::Unnameable("not UTF-8 once decoded".into()),
            },
            None => return Form::Unnameable("invalid escape".into()),
        }
    } else {
        value.to_owned()
    };
    // The asterisk form (`OPTIONS *`): the glob `*` matches no path but `*` (`/` is a separator),
    // and an escaped one would not start with `/` or `*` as path globs must.
    if decoded == "*" {
        return Form::Named(decoded);
    }
    Form::Named(glob_escape(&decoded))
}

fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A host as a policy names it: lower-cased, without a port and one trailing dot. A value
/// holding commas is a list (axum-extra reads `X-Forwarded-Host` whole): one form per element.
fn host_forms(value: &str) -> Vec<Form> {
    if value.contains(',') {
        return value.split(',').map(|e| host_form(e.trim())).collect();
    }
    vec![host_form(value)]
}

fn host_form(value: &str) -> Form {
    let lower = value.to_ascii_lowercase();
    let without_port = if lower.starts_with('[') {
        match lower.split_once(']') {
            Some((inside, rest))
                if rest.is_empty()
                    || rest
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                format!("{inside}]")
            }
            _ => lower.clone(),
        }
    } else {
        match lower.split_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
            _ => lower.clone(),
        }
    };
    let host = without_port
        .strip_suffix('.')
        .unwrap_or(&without_port)
        .to_owned();
    if host.is_empty() {
        return Form::Unnameable("empty host".into());
    }
    Form::Named(host_glob_escape(&host))
}

/// A method as a policy names it (policies upper-case methods).
fn method_form(value: &str) -> Form {
    let v = value.trim();
    if v.is_empty() {
        Form::Unnameable("empty method".into())
    } else {
        Form::Named(v.to_owned())
    }
}

/// Whether a query parameter name, as a framework's query parser decoded it, is a `_method`
/// override to some backend: `_method` itself (Laravel, Rails, Express), in any case
/// (frameworks differ), and as PHP reads names (leading spaces dropped; ` `, `.` and `[` read
/// as `_`; `_method[...]` an array).
fn backend_override_key(key: &str) -> bool {
    let k = key.trim_start_matches(' ');
    // PHP: `name[...]` is an array named `name`; a `[` without a `]` is read as `_`.
    let base = match k.find('[') {
        Some(i) if i > 0 && k[i..].contains(']') => &k[..i],
        _ => k,
    };
    let php: String = base
        .chars()
        .map(|c| if matches!(c, ' ' | '.' | '[') { '_' } else { c })
        .collect();
    php.eq_ignore_ascii_case("_method")
}

/// Query pairs as the framework parsed them, and as a parser that also splits on `;` would
/// (Python before 3.9.2, CVE-2021-23336): axum's own parser run on the query with `;` as `&`.
fn override_values(echo: &Echo) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for pairs in [
        Some(echo.query().unwrap_or_default()),
        semicolon_query(echo),
    ]
    .into_iter()
    .flatten()
    {
        for (k, v) in pairs {
            if backend_override_key(&k) {
                out.push((format!("query {k:?}"), v));
            }
        }
    }
    for (name, lines) in echo::OVERRIDE_HEADERS.iter().zip(echo.override_headers()) {
        for line in lines {
            out.push(((*name).to_owned(), line));
        }
    }
    out
}

fn semicolon_query(echo: &Echo) -> Option<Vec<(String, String)>> {
    let q = echo.str("raw_query")?;
    if !q.contains(';') {
        return None;
    }
    let uri: http::Uri = format!("/?{}", q.replace(';', "&")).parse().ok()?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .ok()
        .map(|q| q.0)
}

/// Every reading of host, path and method that the frameworks made.
fn readings(r: &Readings) -> Vec<Reading> {
    let mut out = Vec::new();
    let mut push = |who: String, kind: Kind, raw: &str, form: Form| {
        out.push(Reading {
            who,
            kind,
            raw: raw.to_owned(),
            form,
        })
    };
    for (fw, echo) in r.each() {
        // An empty host is a reading no policy can name: the engine must refuse it.
        if let Some(host) = echo.str("host") {
            for form in host_forms(host) {
                push(format!("{fw} host"), Kind::Host, host, form);
            }
        }
        let paths: &[(&str, bool)] = match fw {
            "axum" => &[("uri_path", true), ("param", false)],
            _ => &[
                ("uri_path", true),
                ("path", true),
                ("match_tail", true),
                ("param", false),
            ],
        };
        for &(key, encoded) in paths {
            if let Some(p) = echo.str(key) {
                push(format!("{fw} {key}"), Kind::Path, p, path_form(p, encoded));
            }
        }
        if let Some(m) = echo.str("method") {
            push(format!("{fw} method"), Kind::Method, m, method_form(m));
        }
        for (source, value) in override_values(echo) {
            push(
                format!("{fw} override {source}"),
                Kind::Method,
                &value,
                method_form(&value),
            );
        }
    }
    out
}

/// Counts of what the checks saw, to show that the generators reach the interesting cases.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    requests: usize,
    served: usize,
    engine_allowed: usize,
    named: usize,
    unnameable: usize,
    converse: usize,
}

/// The forbid property for one named reading: `default = "allow"` and one forbid rule on it.
/// `None` when the policy does not compile (the reading cannot be named after all).
fn forbid_check(
    h: &Harness,
    raw: &Raw,
    tables: &str,
    condition: &str,
    who: &str,
) -> Result<Option<()>, TestCaseError> {
    let toml = policy(
        "allow",
        tables,
        &format!("effect = \"forbid\"\nwhen = {{ {condition} }}"),
    );
    let Ok(engine) = compile(&toml) else {
        return Ok(None);
    };
    let request = raw.engine_request();
    let verdict = engine.decide(&request);
    prop_assert!(
        !verdict.is_allowed(),
        "{who}: the engine allowed a request that a forbid rule on the framework's reading \
         must stop\nrequest: {raw:?}\npolicy:\n{toml}\n{}",
        engine.explain(&request)
    );
    for (fw, echo) in h.through_gate(engine, raw) {
        prop_assert!(
            false,
            "{who}: the {fw} middleware let through a request that a forbid rule on the \
             framework's reading must stop\nrequest: {raw:?}\npolicy:\n{toml}\nthe handler read \
             {echo:?}"
        );
    }
    Ok(Some(()))
}

/// A reading that no policy can name must make the engine refuse: with a rule that makes the
/// engine read that part of the request and decides nothing, it must still not allow it.
fn refusal_check(
    h: &Harness,
    raw: &Raw,
    tables: &str,
    reader: &str,
    who: &str,
    why: &str,
) -> Result<(), TestCaseError> {
    let toml = policy(
        "allow",
        tables,
        &format!("effect = \"forbid\"\nwhen = {{ {reader} }}"),
    );
    let engine = compile(&toml).expect("reader policy");
    let request = raw.engine_request();
    let verdict = engine.decide(&request);
    prop_assert!(
        !verdict.is_allowed(),
        "{who}: the framework read something no policy can name ({why}), yet the engine \
         allowed the request\nrequest: {raw:?}\npolicy:\n{toml}\n{}",
        engine.explain(&request)
    );
    for (fw, echo) in h.through_gate(engine, raw) {
        prop_assert!(
            false,
            "{who}: the framework read something no policy can name ({why}), yet the {fw} \
             middleware let the request through\nrequest: {raw:?}\nthe handler read {echo:?}"
        );
    }
    Ok(())
}

/// The host, path and method properties for one request.
fn check_request(h: &Harness, raw: &Raw, tally: &mut Tally) -> Result<(), TestCaseError> {
    tally.requests += 1;
    let r = h.readings(raw);
    if r.each().next().is_none() {
        // Neither framework served it: nothing to compare.
        return Ok(());
    }
    tally.served += 1;
    let all = readings(&r);

    // Forbid: each distinct reading, as its own policy.
    let mut done: Vec<(Kind, Form)> = Vec::new();
    for reading in &all {
        if done.contains(&(reading.kind, reading.form.clone())) {
            continue;
        }
        done.push((reading.kind, reading.form.clone()));
        let who = format!("{} read {:?}", reading.who, reading.raw);
        match &reading.form {
            Form::Named(value) => {
                let condition = reading.kind.condition(value);
                match forbid_check(h, raw, "", &condition, &who)? {
                    Some(()) => tally.named += 1,
                    None => {
                        tally.unnameable += 1;
                        refusal_check(h, raw, "", reading.kind.reader(), &who, "invalid pattern")?
                    }
                }
            }
            Form::Unnameable(why) => {
                tally.unnameable += 1;
                refusal_check(h, raw, "", reading.kind.reader(), &who, why)?
            }
        }
    }

    // Converse: one allow rule on the engine's own readings; if the engine allows, every
    // framework reading is the same.
    let reader = compile(&policy(
        "allow",
        "",
        r#"effect = "allow"
when = { host = ["*"], path = ["/**", "*"], method = ["GET"] }"#,
    ))
    .expect("reader");
    let request = raw.engine_request();
    let explained = reader.explain(&request);
    if !reader.decide(&request).is_allowed() {
        return Ok(());
    }
    tally.engine_allowed += 1;
    let summary = explained.request;
    let mut conditions = Vec::new();
    let own = |kind: Kind| match kind {
        Kind::Host => summary.host.clone().map(|h| host_glob_escape(&h)),
        Kind::Path => summary.path.clone().map(|p| glob_escape(&p)),
        Kind::Method => summary.method.clone(),
    };
    for kind in [Kind::Host, Kind::Path, Kind::Method] {
        if let Some(value) = own(kind) {
            conditions.push(kind.condition(&value));
        }
    }
    let toml = policy(
        "forbid",
        "",
        &format!("effect = \"allow\"\nwhen = {{ {} }}", conditions.join(", ")),
    );
    let Ok(engine) = compile(&toml) else {
        return Ok(());
    };
    if !engine.decide(&request).is_allowed() {
        return Ok(());
    }
    tally.converse += 1;
    let differs = |readings: &[Reading]| -> Option<String> {
        readings.iter().find_map(|reading| {
            let own = own(reading.kind)?;
            let same = match &reading.form {
                Form::Named(v) if reading.kind == Kind::Method => v.eq_ignore_ascii_case(&own),
                Form::Named(v) => *v == own,
                Form::Unnameable(_) => false,
            };
            (!same).then(|| {
                format!(
                    "{} read {:?} ({:?}), the engine {own:?}",
                    reading.who, reading.raw, reading.form
                )
            })
        })
    };
    if let Some(d) = differs(&all) {
        prop_assert!(
            false,
            "the engine allowed on its own reading, but a framework reads otherwise: {d}\n\
             request: {raw:?}\npolicy:\n{toml}"
        );
    }
    for (fw, echo) in h.through_gate(engine, raw) {
        let through = Readings {
            axum: if fw == "axum" {
                Ok(echo.clone())
            } else {
                Err(0)
            },
            actix: if fw == "actix" { Ok(echo) } else { Err(0) },
        };
        if let Some(d) = differs(&readings(&through)) {
            prop_assert!(
                false,
                "the {fw} middleware let through on the engine's own reading, but the handler \
                 read otherwise: {d}\nrequest: {raw:?}\npolicy:\n{toml}"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Client address

/// The client-address source under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Forwarded,
    XForwardedFor,
}

impl Source {
    fn tables(self) -> String {
        let source = match self {
            Source::Forwarded => "forwarded",
            Source::XForwardedFor => "x-forwarded-for",
        };
        format!("[client_ip]\nsource = \"{source}\"\ntrusted_proxies = {TRUSTED}\n")
    }
}

/// An address as a backend parses actix-web's real-IP string: an address, with or without a
/// port or brackets, white space around it trimmed.
fn ip_form(value: &str) -> Option<IpAddr> {
    let v = value.trim();
    v.parse::<IpAddr>()
        .ok()
        .or_else(|| v.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            v.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })
}

/// An IPv4-mapped IPv6 address is its IPv4 address (the engine's and the policy's reading).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client-address property for one request under `source`.
fn check_client(
    h: &Harness,
    raw: &Raw,
    source: Source,
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    tally.requests += 1;
    let Ok(echo) = h.ask(h.echo_actix.addr, raw) else {
        return Ok(());
    };
    tally.served += 1;
    let tables = source.tables();
    let Some(realip) = echo.str("realip") else {
        return Ok(());
    };
    let who = format!("actix realip_remote_addr read {realip:?}");
    match ip_form(realip) {
        Some(ip) => {
            tally.named += 1;
            let condition = format!("ip = [{}]", quote(&ip.to_string()));
            forbid_check(h, raw, &tables, &condition, &who)?
                .expect("an address is a valid ip condition");
        }
        // The backend cannot read an address: no policy names it, and nothing is asserted
        // beyond what the converse below says.
        None => tally.unnameable += 1,
    }

    // Converse: the engine's own client, allowed alone.
    let request = raw.engine_request();
    let reader = compile(&policy("allow", &tables, "")).expect("reader");
    let verdict = reader.decide(&request);
    let Some(own) = verdict.client_ip().filter(|_| verdict.is_allowed()) else {
        return Ok(());
    };
    tally.engine_allowed += 1;
    let toml = policy(
        "forbid",
        &tables,
        &format!(
            "effect = \"allow\"\nwhen = {{ ip = [{}] }}",
            quote(&own.to_string())
        ),
    );
    let engine = compile(&toml).expect("converse policy");
    if !engine.decide(&request).is_allowed() {
        return Ok(());
    }
    tally.converse += 1;
    let framework = ip_form(realip).map(canonical);
    prop_assert_eq!(
        framework,
        Some(own),
        "the engine allowed on its own client address, but actix-web reads {:?}\nrequest: \
         {:?}\npolicy:\n{}",
        realip,
        raw,
        toml
    );
    for (fw, echo) in h.through_gate(engine, raw) {
        let read = echo.str("realip").and_then(ip_form).map(canonical);
        if fw == "actix" {
            prop_assert_eq!(
                read,
                Some(own),
                "the actix middleware let through on the engine's client address, but the \
                 handler read {:?}\nrequest: {:?}",
                echo.str("realip"),
                raw
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Mostly ordinary pieces, with the tricky ones mixed in: a request the engine refuses proves
/// little, so a good share must be accepted.
fn pick(plain: &'static [&'static str], tricky: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        5 => select(plain).prop_map(str::to_owned),
        1 => select(tricky).prop_map(str::to_owned),
    ]
    .boxed()
}

const SEGMENTS: &[&str] = &["admin", "api", "users", "x", "a.b", "caf%C3%A9", "%61dmin"];

const TRICKY_SEGMENTS: &[&str] = &[
    "ADMIN",
    "%41DMIN",
    "adm%69n",
    "a%2eb",
    "%2e",
    "%2E%2e",
    ".",
    "..",
    "...",
    ".well-known",
    "",
    "a;b",
    ";x",
    "a%3bb",
    "a%2fb",
    "a%2Fb",
    "%5c",
    "a\\b",
    "café",
    "%C2%A0x",
    "x%C2%A0",
    "%C2%A0",
    "\u{a0}x",
    "x\u{a0}",
    "%E2%80%8Badmin",
    "a%20b",
    "%20admin",
    "admin%20",
    "~user",
    "a+b",
    "a%2Bb",
    "%25",
    "%2561",
    "%zz",
    "%4",
    "%ff",
    "%c0%ae",
    "%00",
    "x%0d%0a",
    "%7e",
    "admin.json",
    "*",
    "{x}",
    "%7B",
    "a%23b",
    "a%3Fb",
    "a#b",
    "%c2%85",
    "\u{e9}",
    "a\"b",
    "a|b",
    "a^b",
    "a`b",
];

const HOSTS: &[&str] = &[
    "example.com",
    "admin.example.com",
    "Example.COM",
    "example.com.",
    "example.com:8080",
    "127.0.0.1",
    "[::1]",
    "localhost",
];

const TRICKY_HOSTS: &[&str] = &[
    "ADMIN.example.com.",
    "example.com:",
    "admin.example.com..",
    ".admin.example.com",
    "a_b.example.com",
    "[::1]:8080",
    "[2001:DB8::1]",
    "::1",
    "user@admin.example.com",
    "admin.example.com@evil.example",
    "exa mple.com",
    "127.0.0.1:80",
    "xn--caf-dma.example",
    "café.example",
    "admin.example.com:80:80",
    "admin.example.com:http",
    "a*.example.com",
    "",
    "admin%2eexample.com",
    "admin.example.com\t",
];

const QUERIES: &[&str] = &["", "", "?a=1", "?_method=DELETE", "?q=/../admin"];

const TRICKY_QUERIES: &[&str] = &[
    "?",
    "?_method=delete",
    "?a=1;_method=DELETE",
    "?a=1&_METHOD=PUT",
    "?.method=PATCH",
    "?%5Fmethod=DELETE",
    "?_method=DEL%45TE",
    "?_method[]=DELETE",
    "?+_method=PUT",
    "?%20_method=PUT",
    "?_method=",
    "?_method=GET",
    "?_method=DELETE&_method=PUT",
    "?x=%zz",
    "?_method=DE+LETE",
    "?_method=%20DELETE",
    "?_Method=options",
    "?[method=TRACE",
    "?_method.x=PUT",
];

const METHODS: &[&str] = &["GET", "POST", "DELETE"];

const TRICKY_METHODS: &[&str] = &[
    "get", "Delete", "PUT", "PATCH", "OPTIONS", "M-SEARCH", "PRI",
];

const OVERRIDE_NAMES: &[&str] = &[
    "X-HTTP-Method-Override",
    "X_HTTP_Method_Override",
    "x-http-method",
    "X-Method-Override",
    "X-HTTP-METHOD-OVERRIDE",
];

const OVERRIDE_VALUES: &[&str] = &["DELETE", "delete", " PUT ", "GET", "POST"];

const TRICKY_OVERRIDE_VALUES: &[&str] = &["", "DEL ETE", "PATCH, DELETE", "GET\tX"];

/// A target, with its authority when it is in absolute form.
fn target() -> impl Strategy<Value = (Option<&'static str>, String)> {
    let origin = (
        prop::collection::vec(pick(SEGMENTS, TRICKY_SEGMENTS), 0..4),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(segments, double)| {
            let mut t = if double {
                "//".to_owned()
            } else {
                "/".to_owned()
            };
            t.push_str(&segments.join("/"));
            t
        });
    let absolute = (
        select(&["http://", "HTTP://", "https://"][..]),
        select(HOSTS),
    );
    (
        prop::option::weighted(0.2, absolute),
        origin,
        pick(QUERIES, TRICKY_QUERIES),
        prop::bool::weighted(0.02),
    )
        .prop_map(|(absolute, path, query, fragment)| {
            let mut t = String::new();
            if let Some((scheme, host)) = absolute {
                t.push_str(scheme);
                t.push_str(host);
            }
            t.push_str(&path);
            t.push_str(&query);
            if fragment {
                t.push_str("#frag");
            }
            (absolute.map(|(_, host)| host), t)
        })
}

/// One `Forwarded` element for the host tests: `host=` and other pairs, spelled every way.
fn forwarded_element() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => Just("host"),
        1 => select(&["Host", "HOST", "for", "proto", "by"][..]),
    ];
    let eq = prop_oneof![6 => Just("="), 1 => select(&[" = ", "= ", " ="][..])];
    let value = (pick(HOSTS, TRICKY_HOSTS), prop::bool::weighted(0.3)).prop_map(|(v, q)| {
        if q {
            format!("\"{v}\"")
        } else {
            v
        }
    });
    let pair = (key, eq, value).prop_map(|(k, eq, v)| match k {
        "for" => format!("{k}{eq}192.0.2.1"),
        "proto" => format!("{k}{eq}https"),
        "by" => format!("{k}{eq}_proxy"),
        _ => format!("{k}{eq}{v}"),
    });
    let sep = prop_oneof![6 => Just(";"), 1 => select(&["; ", " ;"][..])];
    (prop::collection::vec(pair, 1..3), sep).prop_map(|(pairs, sep)| pairs.join(sep))
}

fn list_of(
    element: impl Strategy<Value = String>,
    lines: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<String>> {
    let sep = prop_oneof![4 => Just(", "), 1 => select(&[",", ",\t", " , ", ",,"][..])];
    prop::collection::vec(
        (prop::collection::vec(element, 1..3), sep).prop_map(|(e, sep)| e.join(sep)),
        lines,
    )
}

/// A request for the host, path and method tests.
fn request() -> impl Strategy<Value = Raw> {
    let host_lines = prop_oneof![
        2 => Just(Vec::new()),
        8 => pick(HOSTS, TRICKY_HOSTS).prop_map(|h| vec![h]),
        1 => (pick(HOSTS, TRICKY_HOSTS), pick(HOSTS, TRICKY_HOSTS)).prop_map(|(a, b)| vec![a, b]),
    ];
    let xfh_name = select(
        &[
            "X-Forwarded-Host",
            "x-forwarded-host",
            "X_Forwarded_Host",
            "X-FORWARDED-HOST",
        ][..],
    );
    let forwarded_name = select(&["Forwarded", "forwarded", "FORWARDED"][..]);
    let overrides = prop::collection::vec(
        (
            select(OVERRIDE_NAMES),
            pick(OVERRIDE_VALUES, TRICKY_OVERRIDE_VALUES),
        ),
        0..2,
    );
    (
        pick(METHODS, TRICKY_METHODS),
        target(),
        host_lines,
        prop::option::weighted(0.3, (forwarded_name, list_of(forwarded_element(), 1..3))),
        prop::option::weighted(0.3, (xfh_name, list_of(pick(HOSTS, TRICKY_HOSTS), 1..3))),
        prop::option::weighted(0.3, overrides),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(method, (authority, target), hosts, forwarded, xfh, overrides, same, http10)| {
                let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
                // An absolute-form target mostly comes with its own authority as the Host.
                let hosts = match authority {
                    Some(a) if same => vec![a.to_owned()],
                    _ => hosts,
                };
                for h in hosts {
                    headers.push(("Host".into(), h.into_bytes()));
                }
                if let Some((name, lines)) = forwarded {
                    for l in lines {
                        headers.push((name.into(), l.into_bytes()));
                    }
                }
                if let Some((name, lines)) = xfh {
                    for l in lines {
                        headers.push((name.into(), l.into_bytes()));
                    }
                }
                for (name, value) in overrides.unwrap_or_default() {
                    headers.push((name.into(), value.as_bytes().to_vec()));
                }
                Raw {
                    method,
                    target: target.into_bytes(),
                    headers,
                    http10,
                }
            },
        )
}

/// Spellings of a client's address as the client writes it: untrusted, often odd.
const CLAIMS: &[&str] = &[
    "192.0.2.1",
    "198.51.100.7",
    "192.0.2.1:8080",
    "[2001:db8::1]",
    "[2001:db8::1]:443",
    "::ffff:192.0.2.1",
];

const TRICKY_CLAIMS: &[&str] = &[
    "2001:db8::1",
    "2001:DB8::1",
    "[::ffff:192.0.2.1]",
    "unknown",
    "_hidden",
    "",
    "01.2.3.4",
    "1.2.3",
    "192.0.2.256",
    "0x7f.1",
    "fe80::1%eth0",
    "[2001:db8::1",
    "192.0.2.1:",
    "192.0.2.1:99999",
    "192.0.2.1 x",
];

/// Trusted proxies' addresses, as proxies write them.
const PROXIES: &[&str] = &["10.0.0.1", "10.0.0.2:80", "127.0.0.1", "10.1.2.3"];

const TRICKY_PROXIES: &[&str] = &["::ffff:10.0.0.3", "[::ffff:10.0.0.4]:81"];

/// A `Forwarded` `for=` value as written: quoted or not (an IPv6 address must be quoted and
/// bracketed by the RFC; clients do anything).
fn for_value(addr: String, quoted: bool) -> String {
    if quoted {
        format!("\"{addr}\"")
    } else {
        addr
    }
}

/// A `for=` value as RFC 7239 writes an address: an IPv6 address bracketed and quoted, a
/// value with a port quoted.
fn rfc_for(addr: &str) -> String {
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("\"[{addr}]\"")
    } else if addr.contains([':', '[']) {
        format!("\"{addr}\"")
    } else {
        addr.to_owned()
    }
}

/// The elements of a list header on one line, or split over two before element `split`.
fn split_lines(elements: &[String], sep: &str, split: usize) -> Vec<String> {
    if split == 0 || split >= elements.len() {
        return vec![elements.join(sep)];
    }
    vec![elements[..split].join(sep), elements[split..].join(sep)]
}

/// A client-address request: a client's claim followed by trusted proxies' hops, in the header
/// `source` reads; the deployment the engine assumes (trusted proxies append). Sometimes the
/// proxies write the other forwarding header too, with the same hops.
fn client_request(source: Source) -> impl Strategy<Value = Raw> {
    let claim = (pick(CLAIMS, TRICKY_CLAIMS), prop::bool::weighted(0.4));
    let hops = prop::collection::vec(
        (pick(PROXIES, TRICKY_PROXIES), prop::bool::weighted(0.4)),
        0..3,
    );
    let for_key =
        prop_oneof![6 => Just("for="), 1 => select(&["For=", "FOR=", "for =", "for= "][..])];
    let extra = prop_oneof![
        4 => Just(""),
        1 => select(&[";proto=https", ";by=_p", "; proto=http", ";host=example.com", ";for=192.0.2.9"][..]),
    ];
    let sep = prop_oneof![4 => Just(", "), 1 => select(&[",", ",\t", " , "][..])];
    let xff_name = select(
        &[
            "X-Forwarded-For",
            "x-forwarded-for",
            "X-FORWARDED-FOR",
            "X_Forwarded_For",
        ][..],
    );
    let forwarded_name = select(&["Forwarded", "forwarded"][..]);
    (
        (claim, hops, for_key, extra),
        (sep, xff_name, forwarded_name),
        (0usize..3, prop::bool::weighted(0.3), select(SEGMENTS)),
    )
        .prop_map(
            move |(
                ((claim, quote_claim), hops, for_key, extra),
                (sep, xff_name, forwarded_name),
                (split, both, segment),
            )| {
                let mut forwarded = vec![format!(
                    "{for_key}{}{extra}",
                    for_value(claim.clone(), quote_claim)
                )];
                let mut xff = vec![claim];
                for (hop, q) in hops {
                    forwarded.push(format!("for={}", for_value(hop.clone(), q)));
                    xff.push(hop);
                }
                // The other header, as proxies that write both write it: by the RFC.
                let rfc_forwarded: Vec<String> =
                    xff.iter().map(|a| format!("for={}", rfc_for(a))).collect();
                let mut headers = vec![("Host".to_owned(), b"example.com".to_vec())];
                let mut add = |name: &str, elements: &[String]| {
                    for line in split_lines(elements, sep, split) {
                        headers.push((name.to_owned(), line.into_bytes()));
                    }
                };
                match source {
                    Source::Forwarded => {
                        add(forwarded_name, &forwarded);
                        if both {
                            add(xff_name, &xff);
                        }
                    }
                    Source::XForwardedFor => {
                        add(xff_name, &xff);
                        if both {
                            add(forwarded_name, &rfc_forwarded);
                        }
                    }
                }
                Raw {
                    method: "GET".into(),
                    target: format!("/{segment}").into_bytes(),
                    headers,
                    http10: false,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Tests

fn config(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_iters: 256,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Runs `check` on `cases` generated requests; fails with the smallest failing request.
fn run<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(&S::Value, &mut Tally) -> Result<(), TestCaseError>,
) -> Tally
where
    S::Value: fmt::Debug,
{
    let tally = std::cell::RefCell::new(Tally::default());
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |value| check(&value, &mut tally.borrow_mut()));
    if let Err(e) = result {
        panic!("{e}");
    }
    tally.into_inner()
}

#[test]
fn hosts_paths_and_methods_are_read_as_the_frameworks_read_them() {
    let h = Harness::new();
    let tally = run(512, request(), |raw, tally| check_request(&h, raw, tally));
    println!("{tally:?}");
    // The generator must reach requests both sides serve and the engine accepts.
    assert!(tally.served * 2 > tally.requests, "{tally:?}");
    assert!(tally.engine_allowed * 4 > tally.requests, "{tally:?}");
    assert!(tally.converse * 8 > tally.requests, "{tally:?}");
    assert!(tally.unnameable > 0, "{tally:?}");
}

#[test]
fn client_addresses_are_read_as_actix_web_reads_them() {
    let h = Harness::new();
    for source in [Source::Forwarded, Source::XForwardedFor] {
        let tally = run(192, client_request(source), |raw, tally| {
            check_client(&h, raw, source, tally)
        });
        println!("{source:?}: {tally:?}");
        assert!(tally.named * 2 > tally.requests, "{source:?}: {tally:?}");
        assert!(tally.converse * 6 > tally.requests, "{source:?}: {tally:?}");
    }
}

/// Header lines of a hand-picked request.
type Headers = &'static [(&'static str, &'static str)];

/// Hand-picked requests: each technique on its own, checked the same way.
#[test]
fn hand_picked_requests() {
    let h = Harness::new();
    let mut tally = Tally::default();
    let cases: &[(&str, &str, Headers)] = &[
        ("GET", "/admin", &[("Host", "example.com")]),
        ("GET", "/%61dmin", &[("Host", "example.com")]),
        ("GET", "/a/%2e%2e/admin", &[("Host", "example.com")]),
        ("GET", "/a/..%2fadmin", &[("Host", "example.com")]),
        ("GET", "/admin;x=1", &[("Host", "example.com")]),
        ("GET", "/admin%3b", &[("Host", "example.com")]),
        ("GET", "//admin", &[("Host", "example.com")]),
        ("GET", "/admin\\x", &[("Host", "example.com")]),
        ("GET", "/admin%5cx", &[("Host", "example.com")]),
        ("GET", "/caf%C3%A9", &[("Host", "example.com")]),
        ("GET", "/café", &[("Host", "example.com")]),
        ("GET", "/admin%C2%A0", &[("Host", "example.com")]),
        ("GET", "/%C2%A0admin", &[("Host", "example.com")]),
        ("GET", "/admin\u{a0}", &[("Host", "example.com")]),
        ("GET", "/a+b%2Bc", &[("Host", "example.com")]),
        ("GET", "/admin%2fx", &[("Host", "example.com")]),
        ("GET", "/%2561dmin", &[("Host", "example.com")]),
        ("GET", "/admin#/../x", &[("Host", "example.com")]),
        ("GET", "/x%23/../admin", &[("Host", "example.com")]),
        ("GET", "/x?/../admin", &[("Host", "example.com")]),
        ("GET", "http://admin.example.com/x", &[]),
        (
            "GET",
            "http://admin.example.com/x",
            &[("Host", "example.com")],
        ),
        (
            "GET",
            "HTTP://Admin.Example.COM:80/x",
            &[("Host", "admin.example.com")],
        ),
        ("GET", "http://user@admin.example.com/x", &[]),
        ("GET", "/x", &[("Host", "ADMIN.example.com.")]),
        ("GET", "/x", &[("Host", "admin.example.com:8080")]),
        ("GET", "/x", &[("Host", "[::1]:8080")]),
        ("GET", "/x", &[("Host", "user@admin.example.com")]),
        (
            "GET",
            "/x",
            &[("Host", "admin.example.com"), ("Host", "example.com")],
        ),
        ("GET", "/x", &[("Host", "")]),
        ("GET", "/x", &[]),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("X-Forwarded-Host", "admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("X_Forwarded_Host", "admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("X-Forwarded-Host", "admin.example.com, example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("X-Forwarded-Host", ", admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "host=admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "host = admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "for=192.0.2.1; host=admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "host=\"admin.example.com\""),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "host=\"admin.example.com,example.com\""),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "host=example.com;host=admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "for=192.0.2.1, host=admin.example.com"),
            ],
        ),
        (
            "GET",
            "/x",
            &[
                ("Host", "example.com"),
                ("Forwarded", "proto=https"),
                ("Forwarded", "host=admin.example.com"),
            ],
        ),
        ("POST", "/x?_method=DELETE", &[("Host", "example.com")]),
        ("POST", "/x?a=1;_method=DELETE", &[("Host", "example.com")]),
        ("POST", "/x?.method=DELETE", &[("Host", "example.com")]),
        ("POST", "/x?_METHOD=delete", &[("Host", "example.com")]),
        ("POST", "/x?%5Fmethod=DEL%45TE", &[("Host", "example.com")]),
        ("POST", "/x?_method[]=DELETE", &[("Host", "example.com")]),
        ("POST", "/x?_method=DE+LETE", &[("Host", "example.com")]),
        (
            "POST",
            "/x",
            &[
                ("Host", "example.com"),
                ("X-HTTP-Method-Override", "DELETE"),
            ],
        ),
        (
            "POST",
            "/x",
            &[
                ("Host", "example.com"),
                ("X_HTTP_Method_Override", "delete"),
            ],
        ),
        (
            "POST",
            "/x",
            &[
                ("Host", "example.com"),
                ("X-HTTP-Method-Override", "PUT, DELETE"),
            ],
        ),
        ("delete", "/x", &[("Host", "example.com")]),
        ("OPTIONS", "*", &[("Host", "example.com")]),
    ];
    let http10: &[(&str, &str, Headers)] = &[
        ("GET", "/x", &[("Host", "example.com")]),
        ("GET", "http://admin.example.com/x", &[]),
    ];
    let requests = cases
        .iter()
        .map(|(m, t, hs)| Raw::new(m, t, hs))
        .chain(http10.iter().map(|(m, t, hs)| Raw::new(m, t, hs).http10()));
    for raw in requests {
        if let Err(e) = check_request(&h, &raw, &mut tally) {
            panic!("{e}");
        }
    }
    let clients: &[(Source, Headers)] = &[
        (Source::XForwardedFor, &[("X-Forwarded-For", "192.0.2.1")]),
        (
            Source::XForwardedFor,
            &[("X-Forwarded-For", "192.0.2.1:8080")],
        ),
        (
            Source::XForwardedFor,
            &[("X-Forwarded-For", "192.0.2.1, 10.0.0.1")],
        ),
        (
            Source::XForwardedFor,
            &[
                ("X-Forwarded-For", "192.0.2.1"),
                ("X-Forwarded-For", "10.0.0.1"),
            ],
        ),
        (Source::XForwardedFor, &[("X-Forwarded-For", ", 10.0.0.1")]),
        (Source::XForwardedFor, &[("X-Forwarded-For", "192.0.2.1,")]),
        (
            Source::XForwardedFor,
            &[("X-Forwarded-For", "[2001:db8::1]:443")],
        ),
        (Source::XForwardedFor, &[("X_Forwarded_For", "192.0.2.1")]),
        (Source::Forwarded, &[("Forwarded", "for=192.0.2.1")]),
        (
            Source::Forwarded,
            &[("Forwarded", "for=\"[2001:db8::1]:443\"")],
        ),
        (Source::Forwarded, &[("Forwarded", "for=[2001:db8::1]")]),
        (Source::Forwarded, &[("Forwarded", "for=2001:db8::1")]),
        (Source::Forwarded, &[("Forwarded", "for = 192.0.2.1")]),
        (
            Source::Forwarded,
            &[("Forwarded", "for=192.0.2.1;for=10.0.0.1")],
        ),
        (
            Source::Forwarded,
            &[("Forwarded", "for=192.0.2.1, for=10.0.0.1")],
        ),
        (
            Source::Forwarded,
            &[("Forwarded", "proto=http, for=10.0.0.1")],
        ),
        (
            Source::Forwarded,
            &[("Forwarded", "for=unknown, for=10.0.0.1")],
        ),
        (
            Source::Forwarded,
            &[
                ("Forwarded", "for=192.0.2.1"),
                ("Forwarded", "for=10.0.0.1"),
            ],
        ),
    ];
    for (source, headers) in clients {
        let mut all = vec![("Host", "example.com")];
        all.extend_from_slice(headers);
        let raw = Raw::new("GET", "/x", &all);
        if let Err(e) = check_client(&h, &raw, *source, &mut tally) {
            panic!("{source:?}: {e}");
        }
    }
    println!("{tally:?}");
}

/// actix-web's `realip_remote_addr` believes claims that the engine, by its trust model, does
/// not: the leftmost `X-Forwarded-For` entry and the first `for=` of `Forwarded`, whatever the
/// hops right of them, and `Forwarded` before `X-Forwarded-For` whichever of the two the
/// trusted proxies write. For each request below actix-web reads 192.0.2.1 and the engine
/// another client, so a forbid rule on 192.0.2.1 does not stop it.
#[test]
#[ignore = "bypass (trust model): actix-web's realip_remote_addr reads the client's own leftmost claim and prefers Forwarded; the engine walks the configured header from the right; needs a decision on the trust model"]
fn client_claims_that_actix_web_believes() {
    let h = Harness::new();
    let mut tally = Tally::default();
    let cases: &[(Source, Headers)] = &[
        // A claim left of an untrusted hop: the engine reads 198.51.100.7.
        (
            Source::XForwardedFor,
            &[("X-Forwarded-For", "192.0.2.1, 198.51.100.7")],
        ),
        (
            Source::Forwarded,
            &[("Forwarded", "for=192.0.2.1, for=198.51.100.7")],
        ),
        // The other header: actix-web prefers `Forwarded`; the engine reads 198.51.100.7.
        (
            Source::XForwardedFor,
            &[
                ("Forwarded", "for=192.0.2.1"),
                ("X-Forwarded-For", "198.51.100.7"),
            ],
        ),
        // No `Forwarded`: actix-web falls back to `X-Forwarded-For`; the engine reads the peer.
        (Source::Forwarded, &[("X-Forwarded-For", "192.0.2.1")]),
    ];
    let mut failures = Vec::new();
    for (source, headers) in cases {
        let mut all = vec![("Host", "example.com")];
        all.extend_from_slice(headers);
        let raw = Raw::new("GET", "/x", &all);
        if let Err(e) = check_client(&h, &raw, *source, &mut tally) {
            failures.push(format!("{source:?}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
