//! Reading the request's host: one strict form, lowercase, without port or trailing dot.

use crate::engine::verdict::Refusal;

/// Normalises a host (lowercase, no port, no trailing dot) into `out`; an empty host leaves
/// `out` empty.
pub(crate) fn normalize_host(raw: &[u8], out: &mut String) -> Result<(), Refusal> {
    out.clear();
    let raw = crate::engine::request::trim_ows(raw);
    if raw.is_empty() {
        return Ok(());
    }
    let host = if raw.first() == Some(&b'[') {
        let close = raw
            .iter()
            .position(|&b| b == b']')
            .ok_or(Refusal::InvalidHost)?;
        let (host, rest) = raw.split_at(close + 1);
        check_port(rest)?;
        let inner = host.get(1..host.len() - 1).unwrap_or(&[]);
        if inner.is_empty()
            || !inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
        {
            return Err(Refusal::InvalidHost);
        }
        host
    } else {
        let (host, port) = match raw.iter().position(|&b| b == b':') {
            Some(i) => raw.split_at(i),
            None => (raw, &[][..]),
        };
        check_port(port)?;
        let host = host.strip_suffix(b".").unwrap_or(host);
        let valid = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        // No empty label: `a..b`, `.a` and `a..` (a second trailing dot) are refused, since a
        // backend may drop the extra dots and see another host.
        let empty_label = host.split(|&b| b == b'.').any(<[u8]>::is_empty);
        if host.is_empty() || !host.iter().all(valid) || empty_label {
            return Err(Refusal::InvalidHost);
        }
        host
    };
    // INVARIANT: `host` is ASCII (checked above), so it is valid UTF-8.
    out.push_str(std::str::from_utf8(host).map_err(|_| Refusal::InvalidHost)?);
    out.make_ascii_lowercase();
    Ok(())
}

fn check_port(rest: &[u8]) -> Result<(), Refusal> {
    match rest {
        [] => Ok(()),
        [b':', digits @ ..] if digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit) => Ok(()),
        _ => Err(Refusal::InvalidHost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_normalise() {
        let cases = [
            ("Example.COM", Ok("example.com")),
            ("example.com.", Ok("example.com")),
            ("example.com:8080", Ok("example.com")),
            ("  example.com ", Ok("example.com")),
            ("[::1]:443", Ok("[::1]")),
            ("", Ok("")),
            ("exa mple.com", Err(Refusal::InvalidHost)),
            ("user@example.com", Err(Refusal::InvalidHost)),
            ("example.com:80:80", Err(Refusal::InvalidHost)),
            ("example.com:http", Err(Refusal::InvalidHost)),
            ("a..b", Err(Refusal::InvalidHost)),
            ("admin.example.com..", Err(Refusal::InvalidHost)),
            (".admin.example.com", Err(Refusal::InvalidHost)),
            ("[::1", Err(Refusal::InvalidHost)),
            ("exa%6dple.com", Err(Refusal::InvalidHost)),
        ];
        for (raw, want) in cases {
            let mut out = String::new();
            let got = normalize_host(raw.as_bytes(), &mut out).map(|()| out.as_str());
            assert_eq!(got, want, "{raw:?}");
        }
    }
}
