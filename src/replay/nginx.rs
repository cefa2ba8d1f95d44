//! Custom log formats, written as nginx's `log_format` string.

use super::parse::{split_request, unescape};
use super::LogEntry;

/// A log format written as nginx writes it in `log_format`: literal text and `$variables`.
///
/// Recognised variables: `$remote_addr` (the peer: required), `$request` or
/// `$request_method` with `$request_uri`, `$host` / `$http_host`, and any `$http_NAME`, read
/// as the request header `NAME` (`$http_user_agent`, `$http_x_forwarded_for`,
/// `$http_x_real_ip`, `$http_forwarded`, ...). Other variables are skipped over; `-` means
/// the value was absent.
///
/// ```
/// use portcullis::replay::NginxFormat;
///
/// let format: NginxFormat =
///     r#"$remote_addr [$time_local] "$request" $status $host "$http_user_agent" "$http_x_forwarded_for""#
///         .parse()?;
/// let e = format
///     .parse_line(r#"10.0.0.2 [25/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 api.example.com "curl/8" "198.51.100.7""#)
///     .unwrap();
/// assert_eq!(e.peer.to_string(), "10.0.0.2");
/// assert_eq!(e.header("host"), Some("api.example.com"));
/// assert_eq!(e.header("x-forwarded-for"), Some("198.51.100.7"));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxFormat {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    RemoteAddr,
    Request,
    Method,
    Uri,
    /// A request header, by its lowercase name.
    Header(String),
    Skipped,
}

impl std::str::FromStr for NginxFormat {
    type Err = String;

    fn from_str(format: &str) -> Result<NginxFormat, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = format;
        while let Some(c) = rest.chars().next() {
            if c != '$' {
                literal.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let (name, after) = match rest[1..].strip_prefix('{') {
                Some(braced) => {
                    let end = braced
                        .find('}')
                        .ok_or_else(|| format!("`${{` without `}}` in `{format}`"))?;
                    (&braced[..end], &braced[end + 1..])
                }
                None => {
                    let body = &rest[1..];
                    let end = body
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(body.len());
                    (&body[..end], &body[end..])
                }
            };
            if name.is_empty() {
                return Err(format!("a `$` without a variable name in `{format}`"));
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            } else if matches!(parts.last(), Some(Part::Var(_))) {
                return Err(format!(
                    "`${name}` follows another variable with nothing between them, so the two cannot be told apart"
                ));
            }
            parts.push(Part::Var(var(name)));
            rest = after;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let has = |v: &Var| parts.contains(&Part::Var(v.clone()));
        if !has(&Var::RemoteAddr) {
            return Err("the format has no `$remote_addr`: the peer address is needed".into());
        }
        let has_request = has(&Var::Request) || (has(&Var::Method) && has(&Var::Uri));
        if !has_request {
            return Err(
                "the format has no `$request` (nor `$request_method` with `$request_uri`)".into(),
            );
        }
        Ok(NginxFormat { parts })
    }
}

fn var(name: &str) -> Var {
    match name {
        "remote_addr" => Var::RemoteAddr,
        "request" => Var::Request,
        "request_method" => Var::Method,
        "request_uri" => Var::Uri,
        "host" | "http_host" => Var::Header("host".into()),
        _ => match name.strip_prefix("http_") {
            Some(header) => Var::Header(header.replace('_', "-").to_ascii_lowercase()),
            None => Var::Skipped,
        },
    }
}

impl NginxFormat {
    /// Reads one line written in this format; `None` if it is not.
    pub fn parse_line(&self, line: &str) -> Option<LogEntry> {
        let mut peer = None;
        let mut request = None;
        let (mut method, mut uri) = (None, None);
        let mut headers = Vec::new();
        let mut rest = line;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Var(v) => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    rest = &rest[end..];
                    match v {
                        Var::RemoteAddr => peer = Some(value.parse().ok()?),
                        Var::Request => request = Some(split_request(value)?),
                        Var::Method => method = Some(value.to_owned()),
                        Var::Uri => uri = Some(unescape(value)),
                        Var::Header(name) => headers.push((name, value)),
                        Var::Skipped => {}
                    }
                }
            }
        }
        let (method, target) = match (request, method, uri) {
            (Some(r), _, _) => r,
            (None, Some(m), Some(u)) if !m.is_empty() && !u.is_empty() => (m, u),
            _ => return None,
        };
        let mut entry = LogEntry::new(peer?, method, target);
        for (name, value) in headers {
            entry.push_header(name, Some(value));
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_or_say_why_not() {
        let bad = [
            ("$request", "no `$remote_addr`"),
            ("$remote_addr $status", "no `$request`"),
            ("$remote_addr$request", "nothing between them"),
            ("$remote_addr ${request", "without `}`"),
            ("$remote_addr $ $request", "without a variable name"),
        ];
        for (f, why) in bad {
            let err = f.parse::<NginxFormat>().unwrap_err();
            assert!(err.contains(why), "{f}: {err}");
        }
        let f: NginxFormat = "${remote_addr} $request_method $request_uri"
            .parse()
            .unwrap();
        let e = f.parse_line("192.0.2.1 POST /x?y=\\x22").unwrap();
        assert_eq!(
            (e.method.as_str(), &e.target[..]),
            ("POST", &b"/x?y=\""[..])
        );
    }

    #[test]
    fn lines_that_do_not_fit_are_refused() {
        let f: NginxFormat = r#"$remote_addr "$request" "$http_user_agent""#.parse().unwrap();
        assert!(f.parse_line(r#"192.0.2.1 "GET / HTTP/1.1" "-""#).is_some());
        assert_eq!(
            f.parse_line(r#"192.0.2.1 "GET / HTTP/1.1" "-""#)
                .unwrap()
                .header("user-agent"),
            None
        );
        for bad in [
            r#"192.0.2.1 GET / HTTP/1.1 "-""#,
            r#"nope "GET / HTTP/1.1" "-""#,
            r#"192.0.2.1 "GET" "-""#,
            "",
        ] {
            assert_eq!(f.parse_line(bad), None, "{bad}");
        }
    }
}
