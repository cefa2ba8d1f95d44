//! What a refused client is told: a short plain body by default, RFC 9457 problem details on
//! request, or whatever a custom responder builds. Nothing reveals the policy unless the
//! operator opts in.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::RequestId;
use crate::{Engine, Verdict};

/// A refusal, independent of any framework; adapters turn it into their response type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The status code.
    pub status: u16,
    /// Header lines to send (name, value).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Bytes,
}

impl Denial {
    /// A plain-text refusal.
    ///
    /// ```
    /// let d = portcullis::gate::Denial::plain(403, "Forbidden\n");
    /// assert_eq!(d.status, 403);
    /// assert_eq!(d.headers, [("content-type", "text/plain; charset=utf-8".to_owned())]);
    /// ```
    pub fn plain(status: u16, body: &'static str) -> Denial {
        Denial {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: Bytes::from_static(body.as_bytes()),
        }
    }
}

/// A function that builds the refusal for a verdict.
pub type Responder = Arc<dyn Fn(&Verdict, &Engine) -> Denial + Send + Sync>;

/// How refusals are answered.
#[derive(Clone, Default)]
pub struct ResponseOptions {
    pub(crate) problem_json: bool,
    pub(crate) expose_rule: bool,
    pub(crate) custom: Option<Responder>,
}

impl fmt::Debug for ResponseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseOptions")
            .field("problem_json", &self.problem_json)
            .field("expose_rule", &self.expose_rule)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Forbidden",
    }
}

fn plain_body(status: u16) -> &'static str {
    match status {
        400 => "Bad Request\n",
        401 => "Unauthorized\n",
        404 => "Not Found\n",
        _ => "Forbidden\n",
    }
}

impl ResponseOptions {
    pub(crate) fn deny(
        &self,
        verdict: &Verdict,
        engine: &Engine,
        request_id: &RequestId,
    ) -> Denial {
        if let Some(custom) = &self.custom {
            return custom(verdict, engine);
        }
        let status = verdict.status();
        let rule = verdict
            .rule()
            .and_then(|id| engine.rule(id))
            .map(|r| r.name().to_owned());
        let mut denial = if self.problem_json {
            let mut body = format!(
                "{{\"type\":\"about:blank\",\"title\":\"{}\",\"status\":{status},\"request_id\":\"{}\"",
                reason(status),
                json_escape(&request_id.to_string())
            );
            if let (true, Some(rule)) = (self.expose_rule, &rule) {
                body.push_str(&format!(",\"rule\":\"{}\"", json_escape(rule)));
            }
            body.push('}');
            Denial {
                status,
                headers: vec![("content-type", "application/problem+json".to_owned())],
                body: Bytes::from(body),
            }
        } else if let (true, Some(rule)) = (self.expose_rule, &rule) {
            Denial {
                status,
                headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
                body: Bytes::from(format!("{} (rule {rule:?})\n", reason(status))),
            }
        } else {
            Denial::plain(status, plain_body(status))
        };
        if let Some(challenge) = verdict.challenge() {
            denial
                .headers
                .push(("www-authenticate", challenge.header_value()));
        } else if status == 401 {
            denial
                .headers
                .push(("www-authenticate", "Bearer realm=\"api\"".to_owned()));
        }
        denial
    }
}

/// Escapes a string for a JSON string literal.
fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}
