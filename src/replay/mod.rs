//! Replaying an access log through a policy: what each rule would decide, and — against an
//! older policy — which requests would change their answer. Streams the log in constant
//! memory: counts per outcome, and a few examples each.
//!
//! The logged address is the TCP peer, and the forwarding headers the log recorded
//! (`$http_x_forwarded_for` and the like) are sent along, so the policy's `[client_ip]`
//! settings find the same client the engine found when the request was live. The report
//! counts how each line's client was found ([`ClientSource`]).
//!
//! Logs carry no API keys, so every request is replayed as unauthenticated; requests decided
//! by a rule that reads keys (`authenticated`, `client`, `role`) are counted apart, since a
//! caller with a key could get another answer.

mod nginx;
mod parse;
mod report;

use std::collections::HashMap;
use std::io::BufRead;
use std::net::IpAddr;

use crate::engine::ConditionKey;
use crate::explain::DecidedBy;
use crate::{Derivation, Engine, Request, Verdict};

pub use nginx::NginxFormat;
pub use parse::parse_combined;
#[cfg(feature = "json")]
pub use parse::parse_json;
pub use report::{Change, ClientSource, Example, Outcome, OutcomeCount, ReplayReport, Unparsed};

/// How many examples are kept per outcome unless [`ReplayOptions::examples`] says otherwise.
pub const EXAMPLES: usize = 3;

/// The longest log line read, in bytes; longer lines are skipped and counted as unparsed.
pub const MAX_LINE: usize = 64 * 1024;

/// Access-log formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// The nginx/Apache "combined" format, with the `"$http_x_forwarded_for"` field nginx's
    /// `main` format appends when it is there.
    Combined,
    /// One JSON object per line (the `json` feature); see [`parse_json`] for the keys.
    Json,
    /// A format written as nginx's `log_format` string.
    Nginx(NginxFormat),
}

impl LogFormat {
    /// Reads one line; `None` if it is not a request in this format.
    pub fn parse_line(&self, line: &str) -> Option<LogEntry> {
        match self {
            LogFormat::Combined => parse_combined(line),
            #[cfg(feature = "json")]
            LogFormat::Json => parse_json(line),
            #[cfg(not(feature = "json"))]
            LogFormat::Json => None,
            LogFormat::Nginx(f) => f.parse_line(line),
        }
    }
}

/// One request read from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The logged client address: the TCP peer the server saw.
    pub peer: IpAddr,
    /// The method.
    pub method: String,
    /// The request target, with nginx's `\xHH` escapes undone.
    pub target: Vec<u8>,
    /// The request headers the log recorded (lowercase names), in log order.
    pub headers: Vec<(String, String)>,
}

impl LogEntry {
    /// An entry without headers.
    pub fn new(peer: IpAddr, method: String, target: Vec<u8>) -> LogEntry {
        LogEntry {
            peer,
            method,
            target,
            headers: Vec::new(),
        }
    }

    /// Adds a header the log recorded; `None` and `-` (a log's "absent") add nothing.
    fn push_header(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty() && *v != "-") {
            self.headers.push((name.to_owned(), v.to_owned()));
        }
    }

    /// The logged value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the log recorded a forwarding header for this request.
    pub fn has_forwarded(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| matches!(n.as_str(), "x-forwarded-for" | "forwarded" | "x-real-ip"))
    }

    /// The request to decide: the logged address is the TCP peer, and the logged headers are
    /// sent as they came.
    pub fn request(&self) -> Request {
        let mut r = Request::new(self.method.clone(), self.target.clone()).peer(self.peer);
        for (name, value) in &self.headers {
            r = r.header(name.clone(), value.clone());
        }
        r
    }

    fn show(&self) -> String {
        let mut s = format!(
            "{} {} {}",
            self.peer,
            self.method,
            String::from_utf8_lossy(&self.target)
        );
        let shown: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n != "user-agent")
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        if !shown.is_empty() {
            s.push_str(&format!(" ({})", shown.join(", ")));
        }
        s
    }
}

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The log format.
    pub format: LogFormat,
    /// How many distinct examples to keep per outcome and per change.
    pub examples: usize,
    /// Whether each example carries the full explanation (and, for a change, the old one).
    pub explain: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            format: LogFormat::Combined,
            examples: EXAMPLES,
            explain: false,
        }
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

/// Replays a log in `format` with the default options; see [`replay_with`].
pub fn replay(
    log: impl BufRead,
    format: LogFormat,
    engine: &Engine,
    against: Option<&Engine>,
    progress: impl FnMut(u64),
) -> std::io::Result<ReplayReport> {
    let options = ReplayOptions {
        format,
        ..ReplayOptions::default()
    };
    replay_with(log, &options, engine, against, progress)
}

/// Replays a log. `progress` is called every 10,000 lines with the count so far.
///
/// ```
/// use portcullis::replay::{replay_with, ClientSource, ReplayOptions};
/// use portcullis::Policy;
///
/// let engine = Policy::from_toml(r#"
///     [policy]
///     default = "allow"
///     [client_ip]
///     source = "x-forwarded-for"
///     trusted_proxies = ["10.0.0.0/8"]
///     [[rules]]
///     name = "no-admin"
///     effect = "forbid"
///     when = { path = "/admin/**" }
///     unless = { ip = "203.0.113.0/24" }
/// "#)?.compile()?;
/// // Behind the proxy 10.0.0.2, a client from the office.
/// let log = r#"10.0.0.2 - - [25/Nov/2026:10:00:00 +0000] "GET /admin/x HTTP/1.1" 200 1 "-" "curl/8" "203.0.113.7""#;
/// let report = replay_with(log.as_bytes(), &ReplayOptions::default(), &engine, None, |_| {})?;
/// assert_eq!(report.outcomes[0].outcome.to_string(), "allow by default");
/// assert_eq!(report.clients.get(&ClientSource::Forwarded), Some(&1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay_with(
    log: impl BufRead,
    options: &ReplayOptions,
    engine: &Engine,
    against: Option<&Engine>,
    mut progress: impl FnMut(u64),
) -> std::io::Result<ReplayReport> {
    let mut report = report::Builder::new(options.examples);
    let mut sources = SourceCache::default();
    let mut raw = Vec::new();
    let mut log = log;
    let mut lines = 0u64;
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
        lines += 1;
        if lines.is_multiple_of(10_000) {
            progress(lines);
        }
        if text.trim().is_empty() {
            continue;
        }
        if too_long {
            report.unparsed(lines, true);
            continue;
        }
        let Some(entry) = options.format.parse_line(text) else {
            report.unparsed(lines, false);
            continue;
        };
        let request = entry.request();
        let verdict = engine.decide(&request);
        let source = sources.classify(engine, &entry, &request, &verdict);
        let keys = reads_keys(engine, &verdict);
        let explain = |e: &Engine| options.explain.then(|| e.explain(&request).to_string());
        let old = against.map(|old_engine| {
            let old = old_engine.decide(&request);
            (Outcome::of(old_engine, &old), old_engine)
        });
        report.decided(
            Outcome::of(engine, &verdict),
            source,
            keys,
            old,
            |old_engine| Example {
                line: lines,
                request: entry.show(),
                explanation: explain(engine),
                old_explanation: old_engine.and_then(explain),
            },
        );
    }
    Ok(report.finish(lines))
}

/// How each line's client was found, remembered per (peer, forwarded field logged), which is
/// all the answer depends on when the client turns out to be the peer.
#[derive(Default)]
struct SourceCache {
    seen: HashMap<(IpAddr, bool), ClientSource>,
}

impl SourceCache {
    const MAX: usize = 100_000;

    fn classify(
        &mut self,
        engine: &Engine,
        entry: &LogEntry,
        request: &Request,
        verdict: &Verdict,
    ) -> ClientSource {
        let peer = crate::engine::client_ip::canonical(entry.peer);
        match verdict.client_ip() {
            None => return ClientSource::Unknown,
            Some(ip) if ip != peer => return ClientSource::Forwarded,
            Some(_) => {}
        }
        let key = (entry.peer, entry.has_forwarded());
        if let Some(s) = self.seen.get(&key) {
            return *s;
        }
        // The client is the peer: ask the one evaluation path why.
        let explanation = engine.explain(request);
        let source = match explanation.client.derivation {
            Some(Derivation::Peer) => ClientSource::Peer,
            Some(Derivation::UntrustedPeer) => ClientSource::UntrustedPeer,
            Some(Derivation::ProxyWithoutHeader) => ClientSource::ProxyWithoutForwarded,
            Some(Derivation::Header { .. }) => ClientSource::Forwarded,
            None => ClientSource::Unknown,
        };
        // A refusal before the client was read says nothing about the peer: not remembered.
        if !matches!(explanation.decided_by, DecidedBy::Refused { .. })
            && self.seen.len() < Self::MAX
        {
            self.seen.insert(key, source);
        }
        source
    }
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
        assert_eq!(report.unparsed.too_long, 1);
        assert_eq!(report.unparsed.lines, vec![1]);
        assert_eq!(report.outcomes.iter().map(|t| t.count).sum::<u64>(), 1);
    }
}
