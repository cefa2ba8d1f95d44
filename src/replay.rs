//! Replaying an access log through a policy: what each rule would decide, and — against an
//! older policy — which requests would change their answer. Streams the log in constant
//! memory: counts per outcome, and a few examples each.
//!
//! Logs carry no API keys, so every request is replayed as unauthenticated; requests decided
//! by a rule that reads keys (`authenticated`, `client`, `role`) are counted apart, since a
//! caller with a key could get another answer.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::IpAddr;

use crate::engine::verdict::Cause;
use crate::engine::ConditionKey;
use crate::{Engine, Request, Verdict};

/// How many examples are kept per outcome.
pub const EXAMPLES: usize = 3;

/// The longest log line read, in bytes; longer lines are skipped and counted as unparsed.
pub const MAX_LINE: usize = 64 * 1024;

/// Access-log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The nginx/Apache "combined" format.
    Combined,
    /// One JSON object per line (the `json` feature).
    Json,
}

/// One request read from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The logged client address.
    pub peer: IpAddr,
    /// The method.
    pub method: String,
    /// The request target, with nginx's `\xHH` escapes undone.
    pub target: Vec<u8>,
    /// The User-Agent, if logged.
    pub user_agent: Option<String>,
    /// The Host, if logged.
    pub host: Option<String>,
}

impl LogEntry {
    /// The request to decide: the logged address is the TCP peer.
    pub fn request(&self) -> Request {
        let mut r = Request::new(self.method.clone(), self.target.clone()).peer(self.peer);
        if let Some(ua) = &self.user_agent {
            r = r.header("user-agent", ua.clone());
        }
        if let Some(h) = &self.host {
            r = r.header("host", h.clone());
        }
        r
    }

    fn show(&self) -> String {
        format!(
            "{} {} {}",
            self.peer,
            self.method,
            String::from_utf8_lossy(&self.target)
        )
    }
}

/// Parses one line of the combined format:
/// `addr ident user [time] "METHOD target PROTO" status size "referer" "user-agent"`.
///
/// ```
/// use portcullis::replay::parse_combined;
///
/// let e = parse_combined(r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 12 "-" "curl/8.0""#).unwrap();
/// assert_eq!((e.method.as_str(), &e.target[..]), ("GET", &b"/a?b=1"[..]));
/// assert_eq!(e.user_agent.as_deref(), Some("curl/8.0"));
/// ```
pub fn parse_combined(line: &str) -> Option<LogEntry> {
    let fields = tokens(line);
    let peer = fields.first()?.parse().ok()?;
    let request = fields.get(4)?;
    let mut parts = request.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method.is_empty() || target.is_empty() {
        return None;
    }
    let user_agent = fields.get(8).filter(|ua| ua.as_str() != "-").cloned();
    Some(LogEntry {
        peer,
        method: method.to_owned(),
        target: unescape(target),
        user_agent,
        host: None,
    })
}

/// Splits a log line into fields: bare words, `[bracketed]` and `"quoted"` (with `\"`).
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if n != '"' && n != '\\' {
                                    s.push('\\');
                                }
                                s.push(n);
                            }
                        }
                        '"' => break,
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            '[' => {
                let mut s = String::new();
                for c in chars.by_ref() {
                    s.push(c);
                    if c == ']' {
                        break;
                    }
                }
                out.push(s);
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(s);
            }
        }
    }
    out
}

/// Undoes nginx's `\xHH` escapes.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Parses one JSON log line. Recognised keys: the address in `remote_addr`, `client_ip`,
/// `client` or `ip`; `method` and `uri` / `request_uri` / `path` / `target`, or `request`
/// (`"GET /x HTTP/1.1"`); `user_agent` / `http_user_agent`; `host` / `http_host`.
#[cfg(feature = "json")]
pub fn parse_json(line: &str) -> Option<LogEntry> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let s = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
            .map(str::to_owned)
    };
    let peer = s(&["remote_addr", "client_ip", "client", "ip"])?
        .parse()
        .ok()?;
    let (method, target) = match (
        s(&["method", "request_method"]),
        s(&["uri", "request_uri", "path", "target"]),
    ) {
        (Some(m), Some(t)) => (m, t),
        _ => {
            let request = s(&["request"])?;
            let mut parts = request.split(' ');
            (parts.next()?.to_owned(), parts.next()?.to_owned())
        }
    };
    Some(LogEntry {
        peer,
        method,
        target: unescape(&target),
        user_agent: s(&["user_agent", "http_user_agent"]).filter(|u| u != "-"),
        host: s(&["host", "http_host"]),
    })
}

/// How often an outcome happened, with examples.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// How many requests.
    pub count: u64,
    /// Up to [`EXAMPLES`] distinct ones (`address METHOD target`).
    pub examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, example: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            let e = example();
            if !self.examples.contains(&e) {
                self.examples.push(e);
            }
        }
    }
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Lines read.
    pub lines: u64,
    /// Lines that were not requests of the chosen format (skipped).
    pub unparsed: Tally,
    /// Per outcome of the policy (`allow by rule "x"`, `forbidden (403) by default`, ...).
    pub outcomes: BTreeMap<String, Tally>,
    /// Requests decided by a rule that reads API keys (replayed without one).
    pub decided_by_key_rules: u64,
    /// With an older policy: per change (`old outcome -> new outcome`), the requests whose
    /// decision or status changed.
    pub changes: BTreeMap<String, Tally>,
    /// How many requests changed their answer in all.
    pub changed: u64,
}

/// A verdict as one short label.
fn label(engine: &Engine, v: &Verdict) -> String {
    let decision = if v.is_allowed() {
        "allow".to_owned()
    } else {
        format!("forbidden ({})", v.status())
    };
    match v.cause() {
        Cause::Rule(id) => {
            let name = engine.rule(id).map_or("", |r| r.name());
            format!("{decision} by rule {name:?}")
        }
        Cause::Default => format!("{decision} by default"),
        Cause::Refused(r) => format!("{decision}: {r}"),
    }
}

fn reads_keys(engine: &Engine, v: &Verdict) -> bool {
    v.rule().and_then(|id| engine.rule(id)).is_some_and(|rule| {
        rule.when.iter().chain(&rule.unless).any(|c| {
            matches!(
                c.key,
                ConditionKey::Authenticated | ConditionKey::Client | ConditionKey::Role
            )
        })
    })
}

/// Replays a log. `progress` is called every 10,000 lines with the count so far.
pub fn replay(
    log: impl BufRead,
    format: LogFormat,
    engine: &Engine,
    against: Option<&Engine>,
    mut progress: impl FnMut(u64),
) -> std::io::Result<ReplayReport> {
    let mut report = ReplayReport::default();
    let mut raw = Vec::new();
    let mut log = log;
    loop {
        raw.clear();
        // A line is read up to MAX_LINE bytes; the rest of a longer one is skipped, so that a
        // log without newlines cannot fill memory.
        if std::io::Read::take(std::io::Read::by_ref(&mut log), MAX_LINE as u64)
            .read_until(b'\n', &mut raw)?
            == 0
        {
            break;
        }
        let too_long = raw.len() >= MAX_LINE && raw.last() != Some(&b'\n');
        if too_long {
            let mut skip = Vec::new();
            loop {
                skip.clear();
                let n = std::io::Read::take(std::io::Read::by_ref(&mut log), MAX_LINE as u64)
                    .read_until(b'\n', &mut skip)?;
                if n == 0 || skip.last() == Some(&b'\n') {
                    break;
                }
            }
        }
        // Lines that are not UTF-8 are read lossily rather than stopping the replay.
        let line = String::from_utf8_lossy(&raw);
        let text = line.trim_end_matches(['\n', '\r']);
        report.lines += 1;
        if report.lines % 10_000 == 0 {
            progress(report.lines);
        }
        if text.trim().is_empty() {
            continue;
        }
        if too_long {
            let n = report.lines;
            report
                .unparsed
                .add(|| format!("line {n} (longer than {MAX_LINE} bytes)"));
            continue;
        }
        let entry = match format {
            LogFormat::Combined => parse_combined(text),
            #[cfg(feature = "json")]
            LogFormat::Json => parse_json(text),
            #[cfg(not(feature = "json"))]
            LogFormat::Json => None,
        };
        let Some(entry) = entry else {
            let n = report.lines;
            report.unparsed.add(|| format!("line {n}"));
            continue;
        };
        let request = entry.request();
        let verdict = engine.decide(&request);
        let now = label(engine, &verdict);
        if reads_keys(engine, &verdict) {
            report.decided_by_key_rules += 1;
        }
        if let Some(old_engine) = against {
            let old = old_engine.decide(&request);
            if (old.decision(), old.status()) != (verdict.decision(), verdict.status()) {
                report.changed += 1;
                let change = format!("{} -> {now}", label(old_engine, &old));
                report
                    .changes
                    .entry(change)
                    .or_default()
                    .add(|| entry.show());
            }
        }
        report.outcomes.entry(now).or_default().add(|| entry.show());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_long_lines_are_skipped_not_buffered() {
        let engine = crate::Policy::from_toml("[policy]\ndefault = \"allow\"")
            .unwrap()
            .compile()
            .unwrap();
        let mut log = "x".repeat(3 * MAX_LINE);
        log.push('\n');
        log.push_str(r#"192.0.2.1 - - [x] "GET / HTTP/1.1" 200 0 "-" "-""#);
        log.push('\n');
        let report = replay(log.as_bytes(), LogFormat::Combined, &engine, None, |_| {}).unwrap();
        assert_eq!(report.lines, 2);
        assert_eq!(report.unparsed.count, 1);
        assert_eq!(report.outcomes.values().map(|t| t.count).sum::<u64>(), 1);
    }

    #[test]
    fn combined_lines_parse() {
        let line = r#"198.51.100.7 - alice [25/Nov/2026:10:00:00 +0000] "POST /api/x%2Fy?a=\"b\" HTTP/1.1" 403 0 "https://example.com/" "Mozilla/5.0 (X11; Linux)""#;
        let e = parse_combined(line).unwrap();
        assert_eq!(e.peer, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(e.method, "POST");
        assert_eq!(e.target, b"/api/x%2Fy?a=\"b\"");
        assert_eq!(e.user_agent.as_deref(), Some("Mozilla/5.0 (X11; Linux)"));
        let e = parse_combined(r#"::1 - - [x] "GET /a\x00b HTTP/1.0" 400 0 "-" "-""#).unwrap();
        assert_eq!(e.target, b"/a\0b");
        assert_eq!(e.user_agent, None);
        for bad in [
            "",
            "garbage",
            r#"1.2.3.4 - - [x] "-" 400 0 "-" "-""#,
            r#"999.1.1.1 - - [x] "GET / HTTP/1.1" 200 0"#,
        ] {
            assert_eq!(parse_combined(bad), None, "{bad}");
        }
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_lines_parse() {
        let e = parse_json(
            r#"{"remote_addr":"192.0.2.1","request":"GET /x HTTP/1.1","http_user_agent":"curl/8"}"#,
        )
        .unwrap();
        assert_eq!((e.method.as_str(), &e.target[..]), ("GET", &b"/x"[..]));
        let e = parse_json(
            r#"{"client_ip":"2001:db8::1","method":"DELETE","uri":"/y","host":"a.example"}"#,
        )
        .unwrap();
        assert_eq!(e.host.as_deref(), Some("a.example"));
        assert_eq!(parse_json(r#"{"method":"GET"}"#), None);
        assert_eq!(parse_json("not json"), None);
    }
}
