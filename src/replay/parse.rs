//! Reading log lines: the combined format (with the forwarded field nginx and Apache formats
//! append) and JSON lines.

use super::LogEntry;

/// Parses one line of the combined format:
/// `addr ident user [time] "METHOD target PROTO" status size "referer" "user-agent"`,
/// optionally followed by `"x-forwarded-for"` (nginx's default `main` format appends
/// `"$http_x_forwarded_for"`).
///
/// ```
/// use portcullis::replay::parse_combined;
///
/// let e = parse_combined(r#"203.0.113.9 - - [25/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 12 "-" "curl/8.0""#).unwrap();
/// assert_eq!((e.method.as_str(), &e.target[..]), ("GET", &b"/a?b=1"[..]));
/// assert_eq!(e.header("user-agent"), Some("curl/8.0"));
///
/// let e = parse_combined(r#"10.0.0.2 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0" "198.51.100.7""#).unwrap();
/// assert_eq!(e.header("x-forwarded-for"), Some("198.51.100.7"));
/// ```
pub fn parse_combined(line: &str) -> Option<LogEntry> {
    let fields = tokens(line);
    let peer = fields.first()?.parse().ok()?;
    let (method, target) = split_request(fields.get(4)?)?;
    let mut entry = LogEntry::new(peer, method, target);
    entry.push_header("user-agent", fields.get(8).map(String::as_str));
    entry.push_header("x-forwarded-for", fields.get(9).map(String::as_str));
    Some(entry)
}

/// `"GET /x HTTP/1.1"` into the method and the target, nginx's `\xHH` escapes undone.
pub(super) fn split_request(request: &str) -> Option<(String, Vec<u8>)> {
    let mut parts = request.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method.is_empty() || target.is_empty() {
        return None;
    }
    Some((method.to_owned(), unescape(target)))
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
pub(super) fn unescape(s: &str) -> Vec<u8> {
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
/// (`"GET /x HTTP/1.1"`); `user_agent` / `http_user_agent`; `host` / `http_host`; the
/// forwarded client in `http_x_forwarded_for` / `x_forwarded_for` / `forwarded_for`,
/// `http_x_real_ip` / `x_real_ip` and `http_forwarded` / `forwarded`.
///
/// ```
/// use portcullis::replay::parse_json;
///
/// let e = parse_json(r#"{"remote_addr":"10.0.0.2","request":"GET /x HTTP/1.1","http_x_forwarded_for":"198.51.100.7"}"#).unwrap();
/// assert_eq!(e.peer.to_string(), "10.0.0.2");
/// assert_eq!(e.header("x-forwarded-for"), Some("198.51.100.7"));
/// ```
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
        (Some(m), Some(t)) => (m, unescape(&t)),
        _ => split_request(&s(&["request"])?)?,
    };
    let mut entry = LogEntry::new(peer, method, target);
    entry.push_header(
        "user-agent",
        s(&["user_agent", "http_user_agent"]).as_deref(),
    );
    entry.push_header("host", s(&["host", "http_host"]).as_deref());
    entry.push_header(
        "x-forwarded-for",
        s(&["http_x_forwarded_for", "x_forwarded_for", "forwarded_for"]).as_deref(),
    );
    entry.push_header("x-real-ip", s(&["http_x_real_ip", "x_real_ip"]).as_deref());
    entry.push_header("forwarded", s(&["http_forwarded", "forwarded"]).as_deref());
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_lines_parse() {
        let line = r#"198.51.100.7 - alice [25/Nov/2026:10:00:00 +0000] "POST /api/x%2Fy?a=\"b\" HTTP/1.1" 403 0 "https://example.com/" "Mozilla/5.0 (X11; Linux)""#;
        let e = parse_combined(line).unwrap();
        assert_eq!(e.peer, "198.51.100.7".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(e.method, "POST");
        assert_eq!(e.target, b"/api/x%2Fy?a=\"b\"");
        assert_eq!(e.header("user-agent"), Some("Mozilla/5.0 (X11; Linux)"));
        assert_eq!(e.header("x-forwarded-for"), None);
        let e = parse_combined(r#"::1 - - [x] "GET /a\x00b HTTP/1.0" 400 0 "-" "-""#).unwrap();
        assert_eq!(e.target, b"/a\0b");
        assert_eq!(e.header("user-agent"), None);
        let e = parse_combined(
            r#"10.0.0.2 - - [x] "GET / HTTP/1.1" 200 0 "-" "-" "203.0.113.5, 10.0.0.9""#,
        )
        .unwrap();
        assert_eq!(e.header("x-forwarded-for"), Some("203.0.113.5, 10.0.0.9"));
        let e = parse_combined(r#"10.0.0.2 - - [x] "GET / HTTP/1.1" 200 0 "-" "-" "-""#).unwrap();
        assert_eq!(e.header("x-forwarded-for"), None);
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
            r#"{"client_ip":"2001:db8::1","method":"DELETE","uri":"/y","host":"a.example","x_real_ip":"192.0.2.9"}"#,
        )
        .unwrap();
        assert_eq!(e.header("host"), Some("a.example"));
        assert_eq!(e.header("x-real-ip"), Some("192.0.2.9"));
        assert_eq!(parse_json(r#"{"method":"GET"}"#), None);
        assert_eq!(parse_json("not json"), None);
    }
}
